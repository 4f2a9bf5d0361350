"""What the OpenAI Images API gateway adds to a request: the official openai client through the
gateway against the SDK calling the orchestrator directly, on one local mesh.

    python benchmarks/gateway_overhead.py --bundle models/demo [--runs 10] [--steps 2]

A 256x256 generation (n=1, b64_json), the stages up to the first upsampler at --steps steps each.
Direct and gateway requests alternate, so both see the same machine
(its speed drifts by more than the overhead); the table reports the medians of each and of the
per-pair difference, after one warm-up request of each.
"""

import argparse
import base64
import statistics
import time

import openai

from services.stage_registry import text_to_image_stages
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient, Sampling

PROMPT = "a red circle"
STAGES = ("prior", "decoder", "upsampler_256")


def time_pairs(bundle: str, runs: int, steps: int, start_seconds: float) -> list[tuple[float, float]]:
    """(direct seconds, gateway seconds) per pair, warm-up excluded."""
    knobs = {stage: Sampling(steps=steps) for stage in STAGES}
    mesh = LocalMesh(bundle, stages=text_to_image_stages(256), stage_args=("--torch-threads", "1"))
    try:
        mesh.start(timeout=start_seconds)
        gateway = mesh.spawn(
            "gateway", "--orchestrator", mesh.target, *(f"--steps={stage}={steps}" for stage in STAGES)
        )
        mesh.processes.append(gateway)  # stopped with the mesh
        mesh.await_ready(gateway, time.monotonic() + start_seconds)
        api = openai.OpenAI(base_url=f"http://{gateway.address}/v1", api_key="-", max_retries=0)
        with GenerationClient(mesh.target) as direct:

            def via_direct() -> float:
                started = time.perf_counter()
                direct.generate(PROMPT, size=256, stages=knobs, timeout=600)
                return time.perf_counter() - started

            def via_gateway() -> float:
                started = time.perf_counter()
                reply = api.images.generate(prompt=PROMPT, size="256x256", response_format="b64_json")
                base64.b64decode(reply.data[0].b64_json)
                return time.perf_counter() - started

            via_direct(), via_gateway()
            return [(via_direct(), via_gateway()) for _ in range(runs)]
    finally:
        mesh.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default="models/demo")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument(
        "--start-seconds",
        type=float,
        default=300,
        help="how long the mesh may take to start (longer on a busy machine)",
    )
    args = parser.parse_args()
    pairs = time_pairs(args.bundle, args.runs, args.steps, args.start_seconds)
    added = [gateway - direct for direct, gateway in pairs]
    print("| | median s | min s | max s |\n| --- | --- | --- | --- |")
    for name, values in (
        ("direct (SDK -> orchestrator)", [d for d, _ in pairs]),
        ("gateway (openai -> gateway -> orchestrator)", [g for _, g in pairs]),
        ("added by the gateway, per pair", added),
    ):
        print(f"| {name} | {statistics.median(values):.4f} | {min(values):.4f} | {max(values):.4f} |")


if __name__ == "__main__":
    main()
