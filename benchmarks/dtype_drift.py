"""A reduced compute dtype against float32, in process on the demo bundle: seconds per stage, the
decoder step's GFLOP/s, and the drift of the final 64, 256 and 1024 px images.

    python benchmarks/dtype_drift.py --bundle models/demo --compute-dtype bfloat16 [--threads 1]
    python benchmarks/dtype_drift.py --compute-dtype bfloat16 --compute-dtype decoder=float32

Every prompt and seed is generated at 1024 px by both cascades, alternating, after one warm-up each;
the 64 and 256 px images are the decoder's and the 256 upsampler's outputs of that request (what a
64 or 256 px request returns), quantized to 8 bits as the mesh returns them. Seconds: the fastest
request of each and the median. The decoder step is timed alone (one guided forward, batch of one
image), its FLOPs counted by torch's flop counter, beside a square matmul of each dtype at the same
thread count.
"""

import argparse
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from services.decoder.model import DecoderJob
from services.inprocess_cascade import CascadeResult, InProcessCascade
from services.runtime.image_dtype import quantize
from services.runtime.malloc_tuning import keep_freed_memory
from services.runtime.settings import parse_stage_compute_dtypes

PROMPTS = (
    "a red circle",
    "a small blue square on a white background",
    "a large yellow star at the top left",
    "a green triangle in the centre on a black background",
)
SIZES = {64: "decoder", 256: "upsampler_256", 1024: "upsampler_1024"}  # size -> the stage drawing it
MATMUL_SIDE = 512  # the rate the project quotes for this CPU: a 512x512 matmul
FAR = 8  # 8-bit levels: a difference beyond this is counted as visible


def images_at(result: CascadeResult, size: int) -> torch.Tensor:
    return result.images if size == 1024 else quantize(result.intermediates[SIZES[size]])


def drift(reference: CascadeResult, candidate: CascadeResult) -> dict[int, tuple[float, float, float]]:
    """Size -> (max, mean, share beyond FAR) of the absolute difference of the 8-bit images."""
    out = {}
    for size in SIZES:
        difference = (images_at(reference, size).int() - images_at(candidate, size).int()).abs().float()
        far = (difference > FAR).float().mean().item()
        out[size] = (difference.max().item(), difference.mean().item(), far)
    return out


def fastest_seconds(repeats: int, call) -> float:
    """The fastest of `repeats` timed calls, after one untimed: on a shared machine the fastest call is
    the one least slowed by the other processes."""
    call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def decoder_step(cascade: InProcessCascade):
    """A call running one guided decoder forward (one image: two rows), on a fresh trajectory."""
    text, _ = cascade.text_encoder.encode_text([PROMPTS[0]])
    model = cascade.decoder
    embedding = torch.randn(1, cascade.prior.embedding_dim, generator=torch.Generator().manual_seed(0))
    trajectory = model.start(
        DecoderJob(
            embedding,
            text,
            cascade.text_encoder.unconditional(),
            model.defaults.num_inference_steps,
            model.defaults.guidance_scale,
            model.defaults.scheduler,
            torch.Generator().manual_seed(0),
        )
    )
    return lambda: model.predict([trajectory])


def step_flops(step) -> int:
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def matmul(dtype: torch.dtype):
    """A call running a MATMUL_SIDE^3 matmul in `dtype` (2 MATMUL_SIDE^3 FLOPs)."""
    a, b = (torch.randn(MATMUL_SIDE, MATMUL_SIDE).to(dtype) for _ in range(2))
    return lambda: a @ b


def print_seconds(results: dict[str, list[CascadeResult]]) -> None:
    print(
        "| stage | float32 s, fastest (median) | candidate s, fastest (median) "
        "| candidate / float32, fastest (median) |"
    )
    print("| --- | ---: | ---: | ---: |")
    per_stage = {
        stage: {name: [r.seconds[stage] for r in runs] for name, runs in results.items()}
        for stage in results["float32"][0].seconds
    }
    per_stage["end to end"] = {
        name: [sum(r.seconds.values()) for r in runs] for name, runs in results.items()
    }
    for stage, samples in per_stage.items():
        (f_min, f_median), (c_min, c_median) = (
            (min(samples[name]), statistics.median(samples[name])) for name in ("float32", "candidate")
        )
        print(
            f"| {stage} | {f_min:.2f} ({f_median:.2f}) | {c_min:.2f} ({c_median:.2f}) "
            f"| {c_min / f_min:.2f} ({c_median / f_median:.2f}) |"
        )


def print_decoder_step(steps: dict, repeats: int) -> None:
    flops = step_flops(steps["float32"])
    calls = {**steps, "float32 matmul": matmul(torch.float32), "bfloat16 matmul": matmul(torch.bfloat16)}
    fastest: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(5):  # alternating blocks of each, as with the requests
        for name, call in calls.items():
            fastest[name].append(fastest_seconds(repeats, call))
    rates = {
        name: 2 * MATMUL_SIDE**3 / min(fastest.pop(f"{name} matmul")) / 1e9
        for name in ("float32", "bfloat16")
    }
    print(
        f"\ndecoder guided step: {flops / 1e9:.2f} GFLOP; matmul {MATMUL_SIDE}^3, fastest of 5 x "
        f"{repeats}: float32 {rates['float32']:.0f} GFLOP/s, bfloat16 {rates['bfloat16']:.0f} GFLOP/s"
    )
    print(
        f"| decoder step | ms, fastest of 5 x {repeats} (slowest block's fastest) | GFLOP/s "
        f"| of the bfloat16 matmul rate |"
    )
    print("| --- | ---: | ---: | ---: |")
    for name, samples in fastest.items():
        rate = flops / min(samples) / 1e9
        print(
            f"| {name} | {min(samples) * 1000:.1f} ({max(samples) * 1000:.1f}) | {rate:.0f} "
            f"| {rate / rates['bfloat16']:.0%} |"
        )


def print_drift(results: dict[str, list[CascadeResult]]) -> None:
    print(
        f"\n| size | max 8-bit difference (worst request) | mean 8-bit difference (mean, worst request) "
        f"| values off by more than {FAR} (mean, worst request) |"
    )
    print("| --- | ---: | ---: | ---: |")
    drifts = [drift(f, c) for f, c in zip(results["float32"], results["candidate"], strict=True)]
    for size in SIZES:
        means, far = [d[size][1] for d in drifts], [d[size][2] for d in drifts]
        print(
            f"| {size} | {max(d[size][0] for d in drifts):.0f} | {statistics.mean(means):.2f}, "
            f"{max(means):.2f} | {statistics.mean(far):.3%}, {max(far):.3%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument(
        "--compute-dtype",
        action="append",
        default=[],
        metavar="[STAGE=]DTYPE",
        help="the candidate's dtypes, as `unclip-mesh up --compute-dtype` takes them",
    )
    parser.add_argument("--seeds", type=int, default=2, help="seeds per prompt")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--step-repeats", type=int, default=20)
    args = parser.parse_args()
    keep_freed_memory(os.environ)  # as every stage server does (MALLOC_TOP_PAD_=131072: glibc's own)
    torch.set_num_threads(args.threads)
    dtypes = parse_stage_compute_dtypes(args.compute_dtype or ["bfloat16"])
    cascades = {
        "float32": InProcessCascade.open(args.bundle),
        "candidate": InProcessCascade.open(args.bundle, compute_dtypes=dtypes),
    }
    results: dict[str, list[CascadeResult]] = {name: [] for name in cascades}
    for cascade in cascades.values():
        cascade.generate(PROMPTS[0], size=1024, seed=0)  # warm-up
    for prompt in PROMPTS:
        for seed in range(1, args.seeds + 1):
            for name, cascade in cascades.items():
                results[name].append(cascade.generate(prompt, size=1024, seed=seed))
    label = ", ".join(f"{stage} {dtype}" for stage, dtype in dtypes.items())
    print(
        f"bundle {args.bundle}, 1024 px, default steps, {args.threads} torch threads, candidate: {label}; "
        f"{len(results['float32'])} requests of each ({len(PROMPTS)} prompts x {args.seeds} seeds), "
        f"alternating\n"
    )
    print_seconds(results)
    print_decoder_step({name: decoder_step(cascade) for name, cascade in cascades.items()}, args.step_repeats)
    print_drift(results)


if __name__ == "__main__":
    main()
