"""Open-loop load: requests arriving as a Poisson process at fractions of the machine's capacity;
throughput and p50/p99 latency (from each request's arrival, so a backlog counts) for the mesh without
batching, with request-level and with step-level batching, and for diffusers' UnCLIPPipeline behind a
FIFO queue (one call at a time, in arrival order).

CPU (default): the mesh on a diffusers-layout folder (`unclip-mesh bundle tiny-karlo DIR`) at 256 px,
one torch thread per stage process; the pipeline on the same folder and steps in this process, with
--peer-threads torch threads. Capacity is the pipeline's sequential throughput measured at the start
(on a shared machine the cap, cores over the core-seconds one image takes in process, is printed but
is more than the run gets). GPU (--gpu): gpu_batching.py's Karlo-sized random
stages in one process, the stage batchers against UnCLIPPipeline on the same weights; capacity is the
closed-loop throughput of step-level batching at 16 clients (--tiny: the tiny configs on the CPU, a
smoke run). "lone s" is one request on an idle server.

    unclip-mesh bundle tiny-karlo /tmp/karlo
    python -m benchmarks.open_loop --bundle /tmp/karlo [--steps 3] [--fractions 0.5,0.8] [--requests 12]
    python -m benchmarks.open_loop --gpu [--fractions 0.5,0.8] [--requests 48]
"""

import argparse
import asyncio
import os
import random
import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import torch

from benchmarks import gpu_batching, unclip_peer
from benchmarks.load import mesh_request
from benchmarks.throughput import MODES
from services.runtime.malloc_tuning import keep_freed_memory
from services.stage_registry import text_to_image_stages
from unclip_mesh.cli.local_mesh import LocalMesh, bundle_stages
from unclip_mesh.client.sdk import Sampling

MAX_IN_FLIGHT = 64  # callers at once; later arrivals wait in line, their latency counted from arrival
GPU_MODES = (
    ("no batching", 1, "step"),
    ("request-level batching", 16, "request"),
    ("step-level batching", 16, "step"),
)


@dataclass(frozen=True)
class OpenLoopResult:
    rate: float  # requests offered per second
    latencies: list[float]  # seconds from each request's arrival to its completion
    seconds: float  # from the first arrival to the last completion

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.seconds

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def poisson_arrivals(rate: float, count: int, seed: int) -> list[float]:
    """Arrival times (seconds from the start) of a Poisson process of `rate` per second."""
    rng = random.Random(seed)
    times, now = [], 0.0
    for _ in range(count):
        now += rng.expovariate(rate)
        times.append(now)
    return times


def open_loop(request: Callable[[int], object], rate: float, count: int, seed: int = 0) -> OpenLoopResult:
    """`count` calls of request(seed), each started at its Poisson arrival whatever is in flight."""

    def timed(index: int, arrival: float) -> tuple[float, float]:
        request(seed * 10_000 + index)
        done = time.perf_counter()
        return done - arrival, done

    with ThreadPoolExecutor(MAX_IN_FLIGHT) as pool:
        start = time.perf_counter()
        futures = []
        for index, offset in enumerate(poisson_arrivals(rate, count, seed)):
            time.sleep(max(0.0, start + offset - time.perf_counter()))
            futures.append(pool.submit(timed, index, start + offset))
        outcomes = [future.result() for future in futures]
    last = max(done for _, done in outcomes)
    return OpenLoopResult(rate, [latency for latency, _ in outcomes], last - start)


def lone_seconds(request: Callable[[int], object]) -> float:
    """One request on an idle server, after a warm-up one."""
    request(0)
    started = time.perf_counter()
    request(1)
    return time.perf_counter() - started


def sweep(
    label: str, request: Callable[[int], object], capacity: float, fractions: list[float], count: int
) -> list[tuple]:
    lone = lone_seconds(request)
    return [
        (label, fraction, lone, open_loop(request, fraction * capacity, count, seed=n))
        for n, fraction in enumerate(fractions)
    ]


def fifo(call: Callable[[int], object]) -> Callable[[int], object]:
    """call behind a FIFO queue: one at a time, in arrival order."""
    queue = ThreadPoolExecutor(1)
    return lambda seed: queue.submit(call, seed).result()


def cpu_rows(args, fractions: list[float]) -> tuple[str, float, list[tuple]]:
    pipe = unclip_peer.load(args.bundle)
    cap = unclip_peer.machine_cap(pipe, args.steps)
    torch.set_num_threads(args.peer_threads)
    capacity = unclip_peer.images_per_second(pipe, args.steps, 3)
    stages = tuple(s for s in bundle_stages(args.bundle) if s in text_to_image_stages(256))
    knobs = {stage: Sampling(steps=args.steps) for stage in stages[1:]}
    rows = []
    for mode in args.modes.split(","):
        with LocalMesh(args.bundle, stages=stages, stage_args=("--torch-threads", "1", *MODES[mode])) as mesh:
            request = mesh_request(mesh.target, "a red circle", {"size": 256, "stages": knobs})
            rows += sweep(f"mesh, batching {mode}", request, capacity, fractions, args.requests)
    peer = fifo(lambda seed: unclip_peer.generate(pipe, args.steps, seed))
    rows += sweep(
        f"UnCLIPPipeline, FIFO queue, {args.peer_threads} threads", peer, capacity, fractions, args.requests
    )
    where = (
        f"{args.bundle}, 256 px, {args.steps} steps per stage, {os.cpu_count()} cores; the machine's "
        f"cap {cap:.2f} images/s; capacity: UnCLIPPipeline's sequential throughput at the start"
    )
    return where, capacity, rows


def gpu_rows(args, fractions: list[float]) -> tuple[str, float, list[tuple]]:
    configs, device, dtype = gpu_batching.setup(args.tiny)
    models = gpu_batching.stage_models(configs, device, dtype)
    text = gpu_batching.random_text(configs, 1, device, dtype)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()

    def on_loop(coroutine):
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    def through(batchers: dict) -> Callable[[int], None]:
        return lambda seed: on_loop(gpu_batching.one_request(models, batchers, text, seed))

    capacity = on_loop(gpu_batching.serve_clients(models, text, 16, 2, 16, "step"))
    rows = []
    for label, max_batch, join in GPU_MODES:
        batchers = gpu_batching.stage_batchers(models, max_batch, MAX_IN_FLIGHT, join)
        rows += sweep(f"stage batchers, {label}", through(batchers), capacity, fractions, args.requests)
    pipeline = gpu_batching.karlo_pipeline(models, configs, text)
    rows += sweep(
        "UnCLIPPipeline, FIFO queue", fifo(lambda seed: pipeline(1)), capacity, fractions, args.requests
    )
    loop.call_soon_threadsafe(loop.stop)
    where = (
        f"{'tiny' if args.tiny else 'Karlo-sized'} random stages, {dtype}, 25/25/7 steps, 256 px; "
        "capacity: step-level batching's closed-loop throughput at 16 clients"
    )
    return where, capacity, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=None, help="a diffusers-layout folder (CPU rows)")
    parser.add_argument("--gpu", action="store_true", help="Karlo-sized random stages on the GPU")
    parser.add_argument("--tiny", action="store_true", help="with --gpu: tiny configs on the CPU")
    parser.add_argument("--steps", type=int, default=3, help="CPU: steps of every diffusion stage")
    parser.add_argument("--modes", default="none,request,step", help="CPU: the mesh's batching modes")
    parser.add_argument("--peer-threads", type=int, default=os.cpu_count(), help="CPU: the pipeline's")
    parser.add_argument("--fractions", default="0.5,0.8", help="arrival rates, as fractions of capacity")
    parser.add_argument("--requests", type=int, default=12, help="arrivals per rate")
    args = parser.parse_args()
    keep_freed_memory(os.environ)  # as every stage server does (MALLOC_TOP_PAD_=131072: glibc's own)
    if not args.gpu and args.bundle is None:
        parser.error("--bundle is needed for the CPU rows")
    fractions = [float(f) for f in args.fractions.split(",")]
    where, capacity, rows = (gpu_rows if args.gpu else cpu_rows)(args, fractions)
    print(f"{where} ({capacity:.2f} images/s); {args.requests} Poisson arrivals per rate")
    print("| server | load (of capacity) | offered req/s | images/s | p50 s | p99 s | lone s | p50 / lone |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for label, fraction, lone, result in rows:
        p50 = statistics.median(result.latencies)
        print(
            f"| {label} | {fraction:.0%} | {result.rate:.2f} | {result.throughput:.2f} | {p50:.2f} | "
            f"{result.quantile(0.99):.2f} | {lone:.2f} | {p50 / lone:.1f}x |"
        )


if __name__ == "__main__":
    main()
