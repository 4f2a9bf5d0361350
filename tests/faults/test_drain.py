"""SIGTERM to a decoder replica under load: its in-flight work finishes, it admits nothing new, and
callers (the orchestrator retries on the other replica) see no failure."""

import json
import re
import signal
import threading
import time

import grpc
import pytest

from tests.faults.conftest import CAPACITY, metrics
from unclip_mesh.client.sdk import GenerationClient, Sampling

pytestmark = pytest.mark.e2e

CALLERS = CAPACITY  # the orchestrator admits them all
DECODER_STEPS = 10


def _load(target: str, stop: threading.Event, outcomes: list) -> None:
    with GenerationClient(target) as client:
        while not stop.is_set():
            try:
                client.generate(
                    "a red circle",
                    seed=2,
                    size=64,
                    timeout=60,
                    stages={"prior": Sampling(steps=2), "decoder": Sampling(steps=DECODER_STEPS)},
                )
                outcomes.append("ok")
            except grpc.RpcError as error:
                outcomes.append(f"{error.code().name}: {error.details()}")


def _wait_until_busy(processes, timeout: float = 30.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        for process in processes:
            if metrics(process)["unclip_inflight_requests"]:
                return process
        time.sleep(0.05)
    raise AssertionError("no decoder replica got work")


def test_sigterm_under_load_drains_without_failing_callers(mesh):
    stop, outcomes = threading.Event(), []
    callers = [threading.Thread(target=_load, args=(mesh.target, stop, outcomes)) for _ in range(CALLERS)]
    for caller in callers:
        caller.start()
    drained = _wait_until_busy(mesh.stage_processes("decoder"))
    try:
        _drain_under_load(drained, stop, callers, outcomes)
    finally:
        if drained.popen.poll() is None:
            drained.popen.kill()
        drained.popen.wait(timeout=30)
        mesh.restart(drained)


def _drain_under_load(drained, stop: threading.Event, callers: list, outcomes: list) -> None:
    try:
        drained.popen.send_signal(signal.SIGTERM)
        with grpc.insecure_channel(drained.address) as channel:
            new_call = channel.unary_stream("/unclip.v1.DecoderService/DecodeImage")
            with pytest.raises(grpc.RpcError) as refused:
                list(new_call(b"", timeout=10))
        assert refused.value.code() == grpc.StatusCode.UNAVAILABLE
        assert drained.popen.wait(timeout=30) == 0
        time.sleep(1.0)  # more requests, all on the remaining replica
    finally:
        stop.set()
        for caller in callers:
            caller.join(timeout=120)
    assert outcomes and all(outcome == "ok" for outcome in outcomes), outcomes
    time.sleep(0.3)  # the stderr reader's last lines
    logged = [json.loads(line) for line in drained.stderr_tail if line.startswith("{")]
    in_flight = [
        int(m.group(1)) for line in logged if (m := re.search(r"draining: (\d+) call", line["message"]))
    ]
    assert in_flight and in_flight[0] >= 1  # it had work when the signal came, and finished it
    assert not any("grace ran out" in line["message"] for line in logged)
