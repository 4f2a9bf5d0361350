"""Seconds per stage and end to end for one request: the mesh (six processes) vs the same stage
models called in one process, at the bundle's default sampling settings.

    python benchmarks/stage_seconds.py --bundle models/demo [--size 1024] [--runs 3] [--threads 2]

Both sides run the same work with the same torch thread count per process; the table reports
medians over --runs requests after one warm-up request, and the mesh's overhead in percent.
"""

import argparse
import statistics
import time

import torch

from services.cli.local_mesh import STAGE_ORDER, LocalMesh
from services.client.sdk import GenerationClient
from services.inprocess_cascade import InProcessCascade
from unclip.v1 import generation_pb2

STAGES_FOR_SIZE = {64: 3, 256: 4, 1024: 5}


def time_mesh(bundle: str, size: int, runs: int, threads: int) -> tuple[dict, float]:
    stages = STAGE_ORDER[:STAGES_FOR_SIZE[size]]
    per_stage: dict[str, list[float]] = {stage: [] for stage in stages}
    totals = []
    with LocalMesh(bundle, stages=stages, stage_args=("--torch-threads", str(threads))) as mesh, \
            GenerationClient(mesh.target) as client:
        client.generate("a red circle", size=size, seed=0)  # warm-up
        for run in range(runs):
            seen: dict[str, float] = {}

            def record(event, seen=seen):
                if event.HasField("stage_finished"):
                    name = generation_pb2.Stage.Name(event.stage_finished.stage)
                    seen[name.removeprefix("STAGE_").lower()] = event.stage_finished.seconds
            started = time.perf_counter()
            client.generate("a red circle", size=size, seed=run + 1, on_event=record)
            totals.append(time.perf_counter() - started)
            for stage in stages:
                per_stage[stage].append(seen[stage])
    return {s: statistics.median(v) for s, v in per_stage.items()}, statistics.median(totals)


def time_in_process(bundle: str, size: int, runs: int, threads: int) -> tuple[dict, float]:
    torch.set_num_threads(threads)
    cascade = InProcessCascade.open(bundle)
    cascade.generate("a red circle", size=size, seed=0)  # warm-up
    per_stage: dict[str, list[float]] = {}
    totals = []
    for run in range(runs):
        started = time.perf_counter()
        result = cascade.generate("a red circle", size=size, seed=run + 1)
        totals.append(time.perf_counter() - started)
        for stage, seconds in result.seconds.items():
            per_stage.setdefault(stage, []).append(seconds)
    return {s: statistics.median(v) for s, v in per_stage.items()}, statistics.median(totals)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--size", type=int, default=1024, choices=(64, 256, 1024))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    args = parser.parse_args()
    mesh_stages, mesh_total = time_mesh(args.bundle, args.size, args.runs, args.threads)
    local_stages, local_total = time_in_process(args.bundle, args.size, args.runs, args.threads)
    print(f"bundle {args.bundle}, {args.size} px, default steps, {args.threads} torch threads, "
          f"median of {args.runs}")
    print("| stage | mesh s | in-process s |")
    print("| --- | ---: | ---: |")
    for stage, seconds in mesh_stages.items():
        print(f"| {stage} | {seconds:.2f} | {local_stages[stage]:.2f} |")
    overhead = (mesh_total / local_total - 1) * 100
    print(f"| end to end | {mesh_total:.2f} | {local_total:.2f} |")
    print(f"\nmesh overhead: {overhead:+.1f}% of in-process")


if __name__ == "__main__":
    main()
