"""A replica killed mid-request: the orchestrator retries on the other; the only one: UNAVAILABLE.
Every replica of a stage gone: a request that needs it is refused by name before any stage is called."""

import signal
import time

import grpc
import pytest

from tests.faults.conftest import FAST, metrics, samples
from unclip.v1 import generation_pb2
from unclip_mesh.client.sdk import Sampling

pytestmark = pytest.mark.e2e


def _kill_at_first_step(mesh, events, stage: int, name: str):
    """Iterates `events` until `name` reports a step, SIGKILLs its busy replica; the rest of events."""
    for event in events:
        if event.HasField("step_progress") and event.step_progress.stage == stage:
            busy = [p for p in mesh.stage_processes(name) if metrics(p)["unclip_inflight_requests"]]
            assert len(busy) == 1
            busy[0].popen.send_signal(signal.SIGKILL)
            busy[0].popen.wait(timeout=10)
            return busy[0], list(events)
    raise AssertionError(f"{name} never reported a step")


def test_a_replica_killed_mid_request_is_retried_on_the_other(mesh, client):
    events = client.generate_events(
        "a red circle",
        seed=3,
        size=64,
        timeout=60,
        stages={"prior": Sampling(steps=2), "decoder": Sampling(steps=30)},
    )
    killed, rest = _kill_at_first_step(mesh, events, generation_pb2.STAGE_DECODER, "decoder")
    try:
        assert rest[-1].HasField("result") and len(rest[-1].result.png_images) == 1
    finally:
        mesh.restart(killed)


def test_the_only_replica_killed_is_unavailable_by_name_then_recovers(mesh, client):
    orchestrator_pid = mesh.orchestrator.popen.pid
    deadline = 20.0
    started = time.monotonic()
    events = client.generate_events(
        "a red circle",
        seed=3,
        size=64,
        timeout=deadline,
        stages={"prior": Sampling(steps=100), "decoder": Sampling(steps=2)},
    )
    with pytest.raises(grpc.RpcError) as error:
        _kill_at_first_step(mesh, events, generation_pb2.STAGE_PRIOR, "prior")
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "prior" in error.value.details()
    assert time.monotonic() - started < deadline
    mesh.restart(mesh.stage_processes("prior")[0])
    assert (
        client.generate(
            "a red circle",
            seed=1,
            size=64,
            timeout=60,
            stages={"prior": Sampling(steps=2), "decoder": Sampling(steps=2)},
        ).size
        == 64
    )
    assert mesh.orchestrator.popen.pid == orchestrator_pid


def test_every_replica_of_a_stage_gone_fails_by_name_before_any_stage_is_called(mesh, client):
    def stage_calls() -> float:
        return sum(samples(mesh.orchestrator, "unclip_stage_call_duration_seconds_count"))

    decoders = mesh.stage_processes("decoder")
    for decoder in decoders:
        decoder.popen.send_signal(signal.SIGKILL)
        decoder.popen.wait(timeout=10)
    try:
        called = stage_calls()
        with pytest.raises(grpc.RpcError) as error:
            client.generate("a red circle", seed=1, size=64, stages=FAST, timeout=60)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "decoder" in error.value.details()
        assert stage_calls() == called  # neither the text encoder nor the prior worked for it
    finally:
        for decoder in decoders:
            mesh.restart(decoder)
    assert client.generate("a red circle", seed=1, size=64, stages=FAST, timeout=60).size == 64
