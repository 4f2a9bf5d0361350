"""One mesh of real processes for the fault tests, sized for two busy CPU cores.

Text encoder, prior, two decoder replicas and the orchestrator; every process has its own metrics
port (scraped to see queues, in-flight calls and denoising steps) and small limits so that overload
and oversize are cheap to reach: --max-queue 4 on the stages and 2 on the orchestrator (at most
2 generations at once: the mesh's capacity), --max-batch-size 2, --max-message-mb 2. Tests that stop a
process start it again.
"""

import socket
import threading
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.stage_fixtures import tiny_bundle  # noqa: F401
from unclip.v1 import generation_pb2
from unclip_mesh.cli.local_mesh import LocalMesh, StageProcess
from unclip_mesh.client.sdk import GenerationClient, Sampling

CAPACITY = 2  # generations the orchestrator admits at once
LIMITS = ("--max-message-mb", "2", "--grace-seconds", "20")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MeteredMesh(LocalMesh):
    """Each process (each replica) gets its own metrics port."""

    def spawn(self, stage: str, *args: str) -> StageProcess:
        return super().spawn(stage, *args, "--metrics-port", str(_free_port()))


def _scrape(process: StageProcess) -> list:
    args = process.popen.args
    port = args[args.index("--metrics-port") + 1]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def metrics(process: StageProcess) -> dict[str, float]:
    """The process's samples by name (labels dropped: one stage per process)."""
    return {s.name: s.value for s in _scrape(process) if not s.labels.keys() - {"stage"}}


def samples(process: StageProcess, name: str) -> list[float]:
    """The values of every sample called `name`, whatever its labels."""
    return [s.value for s in _scrape(process) if s.name == name]


def rss_bytes(process: StageProcess) -> int:
    with open(f"/proc/{process.popen.pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def request(steps: int = 2, prior_steps: int = 2, prompt: str = "a red circle"):
    message = generation_pb2.GenerateImagesRequest(prompt=prompt, seed=1, size=generation_pb2.IMAGE_SIZE_64)
    message.prior.num_inference_steps = prior_steps
    message.decoder.num_inference_steps = steps
    return message


FAST = {"prior": Sampling(steps=2), "decoder": Sampling(steps=2)}


@pytest.fixture(scope="package")
def mesh(tiny_bundle):  # noqa: F811
    with MeteredMesh(
        tiny_bundle.root,
        stages=("text_encoder", "prior", "decoder"),
        replicas={"decoder": 2},
        stage_args=("--torch-threads", "1", "--max-batch-size", "2", "--max-queue", "4", *LIMITS),
        orchestrator_args=("--max-queue", str(CAPACITY), *LIMITS),
    ) as mesh:
        yield mesh


@pytest.fixture(scope="package")
def client(mesh):
    with GenerationClient(mesh.target) as client:
        yield client


def in_background(function, *args) -> tuple[threading.Thread, list]:
    """Runs function(*args) on a thread; the list receives its result or the exception it raised."""
    outcome: list = []

    def run():
        try:
            outcome.append(function(*args))
        except BaseException as error:  # inspected by the test
            outcome.append(error)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome
