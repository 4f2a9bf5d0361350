"""Seconds per stage and end to end for one request: the mesh (six processes) vs the same stage
models called in one process, at the bundle's default sampling settings.

    python benchmarks/stage_seconds.py --bundle models/demo [--size 1024] [--runs 3] [--threads 2]
        [--compute-dtype bfloat16 [--compute-dtype decoder=float32]]

Both sides run the same work with the same torch thread count per process, PNG encoding of the result
included (the mesh returns PNGs). Mesh and in-process requests alternate; the table reports medians
over --runs requests of each after one warm-up request of each, and the mesh's overhead in percent
(with its range over the request pairs).
"""

import argparse
import os
import statistics
import time

import torch

from services.inprocess_cascade import InProcessCascade
from services.orchestrator.images import to_pngs
from services.runtime.malloc_tuning import keep_freed_memory
from services.runtime.settings import parse_stage_compute_dtypes
from services.stage_registry import text_to_image_stages
from unclip.v1 import generation_pb2
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient


def mesh_request(client: GenerationClient, size: int, seed: int) -> tuple[dict, float]:
    """Seconds per stage (as the orchestrator reports them) and end to end, for one mesh request."""
    seen: dict[str, float] = {}

    def record(event):
        if event.HasField("stage_finished"):
            name = generation_pb2.Stage.Name(event.stage_finished.stage)
            seen[name.removeprefix("STAGE_").lower()] = event.stage_finished.seconds

    started = time.perf_counter()
    client.generate("a red circle", size=size, seed=seed, on_event=record)
    return seen, time.perf_counter() - started


def in_process_request(cascade: InProcessCascade, size: int, seed: int) -> tuple[dict, float]:
    """The same request through the stage models in this process, PNG encoding included."""
    started = time.perf_counter()
    result = cascade.generate("a red circle", size=size, seed=seed)
    to_pngs(result.images)
    return result.seconds, time.perf_counter() - started


def medians(samples: list[tuple[dict, float]]) -> tuple[dict, float]:
    stages = samples[0][0]
    return (
        {stage: statistics.median(seen[stage] for seen, _ in samples) for stage in stages},
        statistics.median(total for _, total in samples),
    )


def time_both(bundle: str, size: int, runs: int, threads: int, dtypes: dict[str, str]) -> tuple[list, list]:
    """Alternates mesh and in-process requests, so that both see the same machine: its speed drifts by
    more than the overhead measured, and back-to-back blocks of each would measure the drift."""
    torch.set_num_threads(threads)
    stages = text_to_image_stages(size)
    cascade = InProcessCascade.open(bundle, compute_dtypes=dtypes)
    with (
        LocalMesh(
            bundle,
            stages=stages,
            stage_args=("--torch-threads", str(threads)),
            args_by_stage={stage: ("--compute-dtype", dtype) for stage, dtype in dtypes.items()},
        ) as mesh,
        GenerationClient(mesh.target) as client,
    ):
        mesh_request(client, size, 0)  # warm-ups
        in_process_request(cascade, size, 0)
        mesh, local = [], []
        for run in range(1, runs + 1):
            mesh.append(mesh_request(client, size, run))
            local.append(in_process_request(cascade, size, run))
    return mesh, local


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--size", type=int, default=1024, choices=(64, 256, 1024))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch threads per process")
    parser.add_argument(
        "--compute-dtype",
        action="append",
        default=[],
        metavar="[STAGE=]DTYPE",
        help="the stages' network dtype, as `unclip-mesh up --compute-dtype` takes it",
    )
    args = parser.parse_args()
    keep_freed_memory(os.environ)  # as every stage server does (MALLOC_TOP_PAD_=131072: glibc's own)
    dtypes = parse_stage_compute_dtypes(args.compute_dtype)
    mesh, local = time_both(args.bundle, args.size, args.runs, args.threads, dtypes)
    (mesh_stages, mesh_total), (local_stages, local_total) = medians(mesh), medians(local)
    print(
        f"bundle {args.bundle}, {args.size} px, default steps, {args.threads} torch threads, "
        f"compute dtypes {dtypes or 'float32'}, median of {args.runs}, mesh and in-process requests "
        f"alternating"
    )
    print("| stage | mesh s | in-process s |")
    print("| --- | ---: | ---: |")
    for stage, seconds in mesh_stages.items():
        print(f"| {stage} | {seconds:.2f} | {local_stages[stage]:.2f} |")
    print(f"| end to end | {mesh_total:.2f} | {local_total:.2f} |")
    pairs = sorted((m / lo - 1) * 100 for (_, m), (_, lo) in zip(mesh, local, strict=True))
    print(
        f"\nmesh overhead: {(mesh_total / local_total - 1) * 100:+.1f}% of in-process "
        f"(request pairs: {pairs[0]:+.1f}% to {pairs[-1]:+.1f}%)"
    )


if __name__ == "__main__":
    main()
