"""Mesh throughput under concurrent clients: step-level vs request-level vs no batching.

Starts the mesh (six processes on loopback, 1 torch thread each) once per batching mode and runs
1, 4 and 16 concurrent clients against it; then, per mode, the most clients against two decoder
replicas. "step-2" is step-level batching capped at 2 trajectories a forward: on a CPU a forward of
a big batch costs as much per row as single rows, and a big batch moves all requests through the
stages in lockstep, leaving the other stages' cores idle. For a diffusers-layout
bundle (a Karlo folder) it also runs the peer, UnCLIPPipeline, on the same folder and step counts in
the same run, and measures the machine's cap (cores over the CPU seconds an image takes in process).
Prints a table of images per second, their share of the cap, and median latency.

    python -m benchmarks.throughput --bundle models/demo [--size 64] [--steps 10] [--requests 2]
"""

import argparse
import os
from pathlib import Path

from benchmarks.load import mesh_request, run_clients
from benchmarks.unclip_peer import peer_rows
from services.runtime.malloc_tuning import keep_freed_memory
from services.stage_registry import text_to_image_stages
from unclip_mesh.cli.local_mesh import LocalMesh, bundle_stages
from unclip_mesh.client.sdk import Sampling

MODES = {
    "none": ("--max-batch-size", "1"),
    "request": ("--max-batch-size", "16", "--batch-join", "request"),
    "step": ("--max-batch-size", "16", "--batch-join", "step"),
    "step-2": ("--max-batch-size", "2", "--batch-join", "step"),
}


def measure(
    bundle: str,
    size: int,
    steps: int,
    requests: int,
    mode: str,
    clients: list[int],
    decoder_replicas: int = 1,
) -> list[tuple]:
    stages = tuple(s for s in bundle_stages(bundle) if s in text_to_image_stages(size))
    knobs = {stage: Sampling(steps=steps) for stage in stages[1:]}
    rows = []
    with LocalMesh(
        bundle,
        stages=stages,
        replicas={"decoder": decoder_replicas},
        stage_args=("--torch-threads", "1", *MODES[mode]),
    ) as mesh:
        request = mesh_request(mesh.target, "a red circle", {"size": size, "stages": knobs})
        run_clients(1, 1, request)  # warm-up
        for count in clients:
            result = run_clients(count, requests, request)
            rows.append((mode, decoder_replicas, count, result.images_per_second, result.median_latency))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--size", type=int, default=64, choices=(64, 256, 1024))
    parser.add_argument("--steps", type=int, default=10, help="steps of every diffusion stage")
    parser.add_argument("--requests", type=int, default=2, help="requests per client")
    parser.add_argument("--clients", default="1,4,16")
    parser.add_argument("--modes", default="none,request,step,step-2")
    parser.add_argument(
        "--peer", action=argparse.BooleanOptionalAction, default=True, help="UnCLIPPipeline's rows"
    )
    args = parser.parse_args()
    keep_freed_memory(os.environ)  # as every stage server does (MALLOC_TOP_PAD_=131072: glibc's own)
    clients = [int(c) for c in args.clients.split(",")]
    rows = []
    for mode in args.modes.split(","):
        common = (args.bundle, args.size, args.steps, args.requests, mode)
        rows += measure(*common, clients)
        rows += measure(*common, [max(clients)], decoder_replicas=2)
    peers = []
    if args.peer and (Path(args.bundle) / "model_index.json").is_file():
        peers = peer_rows(args.bundle, args.steps, max(clients) * args.requests)
    print(
        f"bundle {args.bundle}, {args.size} px (stage depth), {args.steps} steps per stage, "
        f"{args.requests} requests per client"
    )
    cap = peers[0][1] if peers else None
    print("| batching | decoder replicas | clients | images/s | of the cap | median latency s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for mode, replicas, count, rate, latency in rows:
        print(f"| {mode} | {replicas} | {count} | {rate:.2f} | {_of(rate, cap)} | {latency:.2f} |")
    for label, rate in peers:
        print(f"| {label} | - | - | {rate:.2f} | {_of(rate, cap)} | - |")


def _of(rate: float, cap: float | None) -> str:
    return f"{rate / cap:.0%}" if cap else "-"


if __name__ == "__main__":
    main()
