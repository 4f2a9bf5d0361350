"""The mesh under faults, through the SDK on a local mesh: how fast a burst past the orchestrator's
--max-queue is refused, and how fast a request that needs a stage with no replica left fails.

Burst: --callers SDK clients (one channel each, connected beforehand) call at once, --rounds times;
the orchestrator admits --max-queue of them, the rest must get RESOURCE_EXHAUSTED, and every admitted
call must complete. Stage gone: every replica of --gone (two of them) is killed, then --requests
requests at a size that needs it are made one after the other; each must fail UNAVAILABLE naming
the stage. One replica gone of two: the same requests must be served by the other.

--stage-nice runs the stage processes at a lower CPU priority, as tests/faults/test_overload.py does:
in a cluster the orchestrator has its own node; on one machine the admitted requests' denoising
otherwise takes the cores from the orchestrator that answers the refusals.

    python -m benchmarks.faults [--bundle DIR] [--callers 40] [--max-queue 8] [--rounds 5] [--stage-nice 10]
"""

import argparse
import os
import signal
import statistics
import tempfile
import threading
import time

import grpc

from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient, Sampling

STEPS = {stage: Sampling(steps=2) for stage in ("prior", "decoder", "upsampler_256")}
STAGES = ("text_encoder", "prior", "decoder", "upsampler_256")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed_call(client: GenerationClient, seed: int) -> tuple[grpc.StatusCode, float, str]:
    """One 256 px generation: its status code, seconds and the status details."""
    started = time.perf_counter()
    try:
        client.generate("a red circle", seed=seed, size=256, stages=STEPS, timeout=120)
        code, details = grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        code, details = error.code(), error.details()
    return code, time.perf_counter() - started, details


def burst(target: str, callers: int, rounds: int) -> list[tuple[grpc.StatusCode, float, str]]:
    """`rounds` times, `callers` SDK clients released together by a barrier."""
    clients = [GenerationClient(target) for _ in range(callers)]
    for client in clients:  # connected before the clock starts
        assert timed_call(client, 0)[0] == grpc.StatusCode.OK
    results: list = []
    lock = threading.Lock()
    for _ in range(rounds):
        barrier = threading.Barrier(callers)

        def caller(client: GenerationClient, seed: int, barrier: threading.Barrier) -> None:
            barrier.wait()
            outcome = timed_call(client, seed)
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=caller, args=(c, i, barrier)) for i, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for client in clients:
        client.close()
    return results


def stage_gone(
    mesh: LocalMesh, stage: str, requests: int, keep: int
) -> list[tuple[grpc.StatusCode, float, str]]:
    """Kills all but `keep` replicas of `stage`, then `requests` calls one after the other."""
    for process in mesh.stage_processes(stage)[keep:]:
        process.popen.send_signal(signal.SIGKILL)
        process.popen.wait(timeout=10)
    with GenerationClient(mesh.target) as client:
        return [timed_call(client, seed) for seed in range(requests)]


def row(label: str, results: list, code: grpc.StatusCode, expect_in_details: str = "") -> str:
    matching = [s for c, s, d in results if c == code and expect_in_details in d]
    others = {c.name for c, _, d in results if c != code or expect_in_details not in d}
    if not matching:
        return f"| {label} | 0 of {len(results)} {code.name} ({', '.join(sorted(others))}) | - | - | - | - |"
    return (
        f"| {label} | {len(matching)} of {len(results)} {code.name} | "
        f"{statistics.median(matching) * 1000:.0f} | {quantile(matching, 0.95) * 1000:.0f} | "
        f"{quantile(matching, 0.99) * 1000:.0f} | {max(matching) * 1000:.0f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=None, help="default: a tiny random bundle")
    parser.add_argument("--callers", type=int, default=40)
    parser.add_argument("--max-queue", type=int, default=8, help="the orchestrator's")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=10, help="per fault")
    parser.add_argument("--gone", default="upsampler_256")
    parser.add_argument("--stage-nice", type=int, default=0, help="added to the stage processes' nice value")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bundle = args.bundle or write_tiny_bundle(scratch, seed=0).root
        with LocalMesh(
            bundle,
            stages=STAGES,
            replicas={args.gone: 2},
            stage_args=("--torch-threads", "1"),
            orchestrator_args=("--max-queue", str(args.max_queue)),
        ) as mesh:
            for process in mesh.processes:
                pid = process.popen.pid
                os.setpriority(os.PRIO_PROCESS, pid, os.getpriority(os.PRIO_PROCESS, pid) + args.stage_nice)
            burst_results = burst(mesh.target, args.callers, args.rounds)
            one_left = stage_gone(mesh, args.gone, args.requests, keep=1)
            none_left = stage_gone(mesh, args.gone, args.requests, keep=0)
    print(
        f"{args.callers} callers x {args.rounds} rounds at --max-queue {args.max_queue}; "
        f"{args.requests} requests with {args.gone} down; 256 px, 2 steps per stage; "
        f"stages at nice +{args.stage_nice}"
    )
    print("| case | outcome | p50 ms | p95 ms | p99 ms | max ms |")
    print("| --- | --- | ---: | ---: | ---: | ---: |")
    print(row("burst: refused", burst_results, grpc.StatusCode.RESOURCE_EXHAUSTED))
    print(row("burst: admitted", burst_results, grpc.StatusCode.OK))
    print(row(f"one {args.gone} replica of two gone", one_left, grpc.StatusCode.OK))
    print(row(f"every {args.gone} replica gone", none_left, grpc.StatusCode.UNAVAILABLE, args.gone))


if __name__ == "__main__":
    main()
