"""How far a request's result drifts when step-level batching puts it beside other requests.

For each diffusion stage of a bundle, one request runs to the end twice with the same seed: alone, and
in a batch with two other requests (other seeds, guidance and prompts, one and two steps ahead, so they
leave the batch before it does). It records, per step, the largest difference of the request's network
output between the two runs (both fed the same sample: batching alone) and, at the end, how far the
two final results are apart (the differences compound through the steps). Prints a table.

    python -m benchmarks.batching_drift --bundle models/demo
"""

import argparse

import torch

from services.decoder.model import DecoderJob
from services.inprocess_cascade import InProcessCascade
from services.prior.model import PriorJob
from services.runtime.image_dtype import quantize
from services.upsampler.model import UpsampleJob
from training import world

PROMPTS = [
    "a red circle on a white background",
    "a large blue star on a black background",
    "a green square on the left on a gray background",
]


def _scene(seed: int, size: int) -> torch.Tensor:
    return world.render(world.sample_scenes(1, torch.Generator().manual_seed(seed)), size)


def _job(stages: InProcessCascade, stage: str, seed: int, guidance: float, prompt: str):
    """A request to `stage` at its bundle defaults, with its own generator seeded with `seed`."""
    generator = torch.Generator().manual_seed(seed)
    model = stages.models[stage]
    d = model.defaults
    text, _ = stages.text_encoder.encode_text([prompt])
    empty = stages.text_encoder.unconditional()
    if stage == "prior":
        return PriorJob(text, empty, d.num_inference_steps, guidance, d.scheduler, generator)
    if stage == "decoder":
        pixels = quantize(_scene(seed, stages.text_encoder.image_size))
        embedding = stages.text_encoder.encode_image(pixels.permute(0, 2, 3, 1))
        return DecoderJob(embedding, text, empty, d.num_inference_steps, guidance, d.scheduler, generator)
    return UpsampleJob(
        _scene(seed, model.output_size // 4), d.num_inference_steps, d.scheduler, generator, d.noise_level
    )


def drift(stages: InProcessCascade, stage: str) -> dict:
    model = stages.models[stage]
    guidance = max(model.defaults.guidance_scale, 1.0)
    alone = model.start(_job(stages, stage, 0, guidance, PROMPTS[0]))
    target = model.start(_job(stages, stage, 0, guidance, PROMPTS[0]))
    others = [
        model.start(_job(stages, stage, seed, g, prompt))
        for seed, g, prompt in ((1, 1.0, PROMPTS[1]), (2, guidance + 1.5, PROMPTS[2]))
    ]
    model.denoise(others)
    model.denoise(others[1:])
    step_drift = 0.0
    while not alone.done:
        batch = [t for t in (others[0], target, others[1]) if not t.done]
        outputs = model.predict(batch)
        alone_output = model.predict([alone])[0]
        own_sample, target.latents = target.latents, alone.latents.clone()
        same_sample = model.predict(batch)[batch.index(target)]  # batching is the only difference
        target.latents = own_sample
        step_drift = max(step_drift, (same_sample - alone_output).abs().max().item())
        for trajectory, output in zip(batch, outputs, strict=True):
            trajectory.advance(output)
        alone.advance(alone_output)
    final_alone, final_batched = model.finish(alone), model.finish(target)
    difference = (final_batched - final_alone).abs()
    levels_changed = (
        None if stage == "prior" else (quantize(final_batched) != quantize(final_alone)).float().mean().item()
    )
    return {
        "stage": stage,
        "steps": alone.total_steps,
        "step_drift": step_drift,
        "final_max": difference.max().item(),
        "final_mean": difference.mean().item(),
        "levels_changed": levels_changed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    stages = InProcessCascade.open(args.bundle)
    print(
        "| stage | steps | max per-step output difference | final max difference | final mean difference "
        "| 8-bit pixels changed |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for stage in ("prior", "decoder", "upsampler_256", "upsampler_1024"):
        row = drift(stages, stage)
        changed = "-" if row["levels_changed"] is None else f"{100 * row['levels_changed']:.3f}%"
        print(
            f"| {row['stage']} | {row['steps']} | {row['step_drift']:.1e} | {row['final_max']:.1e} | "
            f"{row['final_mean']:.1e} | {changed} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
