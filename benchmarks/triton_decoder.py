"""Seconds per decoder denoising step: the native decoder vs its UNet in Triton (PyTriton).

    unclip-mesh triton serve decoder --bundle models/demo --allow-shared-memory --torch-threads 1 &
    python benchmarks/triton_decoder.py --bundle models/demo --triton-url 127.0.0.1:8001 --threads 1

One step = DecoderModel.denoise on a batch of guided trajectories (two UNet rows each), as the step
batcher runs it. Reports the median of --rounds interleaved rounds (each the median of --steps steps
after two warm-up steps) for the native model and the Triton-backed one, with tensors in the gRPC
messages and in system shared memory.
"""

import argparse
import statistics
import time

import torch

from services.bundle.loader import open_bundle
from services.decoder.model import DecoderJob, DecoderModel
from services.diffusion.text import TextTensors
from services.runtime.settings import ServerSettings
from services.triton.stage_models import triton_stage_model


def _job(model: DecoderModel, seed: int) -> DecoderJob:
    generator = torch.Generator().manual_seed(seed)
    width, length = model.text_proj.embedding_proj.in_features, 77  # CLIP width
    text = TextTensors(
        torch.randn(1, width, generator=generator),
        torch.randn(1, length, width, generator=generator),
        torch.ones(1, length, dtype=torch.bool),
    )
    return DecoderJob(
        image_embedding=torch.randn(1, width, generator=generator),
        text=text,
        unconditional=text,
        steps=1000,
        guidance_scale=8.0,
        scheduler="ddpm",
        generator=generator,
    )


def seconds_per_step(model: DecoderModel, trajectories: int, steps: int) -> float:
    batch = [model.start(_job(model, seed)) for seed in range(trajectories)]
    times = []
    for step in range(steps + 2):
        started = time.perf_counter()
        model.denoise(batch)
        if step >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--triton-url", required=True)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the native model")
    parser.add_argument("--batches", default="1,4", help="trajectories per step, comma-separated")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    batches = [int(n) for n in args.batches.split(",")]
    torch.set_num_threads(args.threads)
    bundle = open_bundle(args.bundle)
    models = {"native": DecoderModel.load(bundle)}
    for memory in ("off", "system"):
        settings = ServerSettings(
            bundle=args.bundle,
            model_backend="triton",
            triton_url=args.triton_url,
            triton_shared_memory=memory,
        )
        models[f"triton, shared memory {memory}"] = triton_stage_model("decoder", bundle, settings)
    rounds = {(name, n): [] for n in batches for name in models}
    for _ in range(args.rounds):  # interleaved, so that a busy moment of the machine hits all alike
        for name, trajectories in rounds:
            rounds[name, trajectories].append(seconds_per_step(models[name], trajectories, args.steps))
    print("| decoder | trajectories (UNet rows) | ms per step (median) |")
    print("| --- | ---: | ---: |")
    for (name, trajectories), seconds in rounds.items():
        print(f"| {name} | {trajectories} ({2 * trajectories}) | {1000 * statistics.median(seconds):.1f} |")


if __name__ == "__main__":
    main()
