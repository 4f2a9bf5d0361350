"""Soak: mixed load on the whole mesh for a long while; resident memory of every process after
warm-up and at the end (the promise: less than 5% growth). Not run in CI.

The mix, from a few concurrent callers: generations at 64, 256 and 1024 px, requests with bad
input, calls cancelled mid-stream, and variations of a generated image.

    python -m benchmarks.soak [--bundle DIR] [--minutes 10] [--warm-up-seconds 60] [--callers 3]
"""

import argparse
import random
import tempfile
import threading
import time

import grpc

from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient, Sampling

STEPS = {stage: Sampling(steps=3) for stage in ("prior", "decoder", "upsampler_256", "upsampler_1024")}
VARIATION_STEPS = {stage: knobs for stage, knobs in STEPS.items() if stage != "prior"}


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def _one(client: GenerationClient, rng: random.Random, image: bytes) -> str:
    kind = rng.choice(("64", "64", "256", "1024", "bad", "cancel", "variation"))
    try:
        if kind == "bad":
            client.generate("", size=64, timeout=30)
        elif kind == "cancel":
            events = client.generate_events("a red circle", size=256, stages=STEPS, timeout=60)
            next(events), next(events)
            events.close()  # the dropped call is cancelled
        elif kind == "variation":
            client.create_variations(image, size=64, stages=VARIATION_STEPS, timeout=120)
        else:
            client.generate(
                "a red circle", size=int(kind), seed=rng.randrange(2**31), stages=STEPS, timeout=300
            )
    except grpc.RpcError as error:
        if (kind, error.code()) not in (
            ("bad", grpc.StatusCode.INVALID_ARGUMENT),
            ("cancel", grpc.StatusCode.CANCELLED),
        ):
            return f"{kind}: {error.code().name}"
    return kind


def soak(mesh: LocalMesh, callers: int, warm_up: float, seconds: float) -> None:
    with GenerationClient(mesh.target) as client:
        image = client.generate("a blue square", size=64, seed=1, stages=STEPS).png_images[0]
    processes = {p.name: p.popen.pid for p in (mesh.orchestrator, *mesh.processes)}
    counts: dict[str, int] = {}
    lock = threading.Lock()
    end = time.monotonic() + warm_up + seconds

    def caller(index: int) -> None:
        rng = random.Random(index)
        with GenerationClient(mesh.target) as client:
            while time.monotonic() < end:
                outcome = _one(client, rng, image)
                with lock:
                    counts[outcome] = counts.get(outcome, 0) + 1

    threads = [threading.Thread(target=caller, args=(i,)) for i in range(callers)]
    for thread in threads:
        thread.start()
    time.sleep(warm_up)
    after_warm_up = {name: rss_mib(pid) for name, pid in processes.items()}
    for thread in threads:
        thread.join()
    print(f"requests: {dict(sorted(counts.items()))}")
    print(f"{'service':<16}{'RSS warm-up MiB':>16}{'RSS end MiB':>13}{'growth':>9}")
    for name, pid in processes.items():
        start, now = after_warm_up[name], rss_mib(pid)
        print(f"{name:<16}{start:>16.1f}{now:>13.1f}{(now / start - 1):>+9.2%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=None, help="default: a tiny random bundle")
    parser.add_argument("--minutes", type=float, default=10.0, help="after the warm-up")
    parser.add_argument("--warm-up-seconds", type=float, default=60.0)
    parser.add_argument("--callers", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        bundle = args.bundle or write_tiny_bundle(scratch, seed=0).root
        with LocalMesh(bundle, stage_args=("--torch-threads", "1")) as mesh:
            soak(mesh, args.callers, args.warm_up_seconds, args.minutes * 60)


if __name__ == "__main__":
    main()
