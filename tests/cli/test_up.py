"""`unclip-mesh up` as a real process: it reports its address and serves; SIGTERM drains the mesh from
the front, so the generations in flight get their images, new calls are refused, and every process
stops."""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.client.sdk import GenerationClient, Sampling

pytestmark = pytest.mark.e2e

# Enough prior steps that the signal finds both generations in the prior: the decoder they still
# need has nothing in flight then, so a mesh stopped all at once would lose them.
KNOBS = {"prior": Sampling(steps=60), "decoder": Sampling(steps=10)}
TIMEOUT = 120


def _start_up(bundle) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "up",
            "--bundle",
            str(bundle.root),
            "--stages",
            "text_encoder,prior,decoder",
            "--orchestrator-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "UNCLIP_GRACE_SECONDS": "100", "UNCLIP_TORCH_THREADS": "1"},
        start_new_session=True,
    )


def _generate_after_prior_started(client: GenerationClient, seed: int, in_prior: threading.Event):
    def on_event(event) -> None:
        if event.HasField("step_progress"):
            in_prior.set()

    return client.generate(
        "a red circle", size=64, seed=seed, timeout=TIMEOUT, stages=KNOBS, on_event=on_event
    )


def _children(up: subprocess.Popen) -> list[int]:
    listed = subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True, text=True, timeout=30)
    return [int(pid) for pid in listed.stdout.split()]


def _wait_until_draining(target: str) -> None:
    with grpc.insecure_channel(target) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        end = time.monotonic() + 60
        serving = health_pb2.HealthCheckResponse.SERVING
        while health.Check(health_pb2.HealthCheckRequest(), timeout=30).status == serving:
            assert time.monotonic() < end, "the orchestrator never started draining"
            time.sleep(0.02)


def test_sigterm_finishes_the_generations_in_flight_then_stops_every_process(tmp_path):
    bundle = write_tiny_bundle(tmp_path / "bundle")
    up = _start_up(bundle)
    try:
        line = up.stdout.readline()
        assert "GenerationService on" in line, line
        target = line.split(" on ")[1].split()[0]
        children = _children(up)
        assert len(children) == 4  # three stages and the orchestrator
        in_prior = [threading.Event(), threading.Event()]
        with GenerationClient(target) as client, ThreadPoolExecutor(len(in_prior)) as pool:
            generations = [
                pool.submit(_generate_after_prior_started, client, seed, started)
                for seed, started in enumerate(in_prior)
            ]
            assert all(started.wait(TIMEOUT) for started in in_prior)
            up.send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            _wait_until_draining(target)
            with pytest.raises(grpc.RpcError) as refused:
                client.generate("a blue square", size=64, timeout=60)
            results = [generation.result(timeout=TIMEOUT) for generation in generations]
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "draining" in refused.value.details()
        assert [len(result.png_images) for result in results] == [1, 1]
        assert all(png.startswith(b"\x89PNG") for result in results for png in result.png_images)
        assert up.wait(timeout=TIMEOUT) == 0
        print(f"the mesh stopped {time.monotonic() - signalled:.1f} s after SIGTERM")
        assert [pid for pid in children if os.path.exists(f"/proc/{pid}")] == []
    finally:
        if up.poll() is None:
            for pid in (*_children(up), up.pid):  # each process leads its own group
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
