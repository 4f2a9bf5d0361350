"""A caller that cancels, or whose deadline runs out, mid-generation: the stage working for it stops
within one denoising step, every server's queues and in-flight calls return to zero, cancelled
calls leave its memory where it was, and no process logs an error for a cancel."""

import json
import time

import grpc
import pytest

from tests.faults.conftest import metrics, request, rss_bytes
from unclip.v1 import generation_pb2, generation_pb2_grpc
from unclip_mesh.cli.local_mesh import LocalMesh

pytestmark = pytest.mark.e2e

MANY_STEPS = 300  # far more than the test lets run
_BUSY = ("unclip_inflight_requests", "unclip_queue_depth")


def _decoder_steps(mesh) -> float:
    return sum(
        metrics(p).get("unclip_denoise_step_seconds_count", 0) for p in mesh.stage_processes("decoder")
    )


def _wait_until_idle(mesh, timeout: float = 5.0) -> None:
    end = time.monotonic() + timeout
    while True:
        busy = {
            p.name: counts
            for p in mesh.everyone()
            if any(counts := [metrics(p).get(name, 0) for name in _BUSY])
        }
        if not busy:
            return
        assert time.monotonic() < end, f"still busy (in flight, queued): {busy}"
        time.sleep(0.05)


def _steps_after(mesh, at_stop: float) -> float:
    """Decoder steps run after `at_stop` once the servers are idle and the count holds still (a
    step in progress when the call ended finishes and is counted)."""
    _wait_until_idle(mesh)
    end = time.monotonic() + 5
    counts = [_decoder_steps(mesh)]
    while len(counts) < 2 or counts[-1] != counts[-2]:
        assert time.monotonic() < end, f"steps still run after the call ended: {counts}"
        time.sleep(0.4)
        counts.append(_decoder_steps(mesh))
    return counts[-1] - at_stop


@pytest.fixture
def stub(mesh):
    with grpc.insecure_channel(mesh.target) as channel:
        yield generation_pb2_grpc.GenerationServiceStub(channel)


def _cancel_after_steps(stub, call_request, stage: int, steps: int, before_cancel=lambda: None):
    """Starts a generation, cancels it after `steps` steps of `stage`; what before_cancel() gave then."""
    call = stub.GenerateImages(call_request, timeout=60)
    seen = 0
    for response in call:
        progress = response.event.step_progress
        if response.event.HasField("step_progress") and progress.stage == stage:
            seen += 1
            if seen == steps:
                at_cancel = before_cancel()
                call.cancel()
                return at_cancel
    raise AssertionError("the call ended before it was cancelled")


def _cancel_after_decoder_steps(mesh, stub, steps: int) -> float:
    """Starts a long generation, cancels it after `steps` decoder steps; the decoder's step count then."""
    return _cancel_after_steps(
        stub, request(steps=MANY_STEPS), generation_pb2.STAGE_DECODER, steps, lambda: _decoder_steps(mesh)
    )


def test_a_cancelled_call_stops_within_one_step(mesh, stub):
    at_cancel = _cancel_after_decoder_steps(mesh, stub, 3)
    # The step running when the cancel arrived may finish; none after it.
    assert _steps_after(mesh, at_cancel) <= 1


def test_cancelled_calls_leave_every_server_s_memory_where_it_was(mesh, stub):
    for _ in range(3):  # the first calls' allocations (allocator arenas, batch buffers) are not a leak
        _cancel_after_decoder_steps(mesh, stub, 2)
    _wait_until_idle(mesh)
    before = {p.name: rss_bytes(p) for p in mesh.everyone()}
    for _ in range(8):
        _cancel_after_decoder_steps(mesh, stub, 2)
    _wait_until_idle(mesh)
    growth = {p.name: rss_bytes(p) / before[p.name] - 1 for p in mesh.everyone()}
    assert all(g < 0.05 for g in growth.values()), growth


def test_a_deadline_that_runs_out_stops_the_work(mesh, stub):
    with pytest.raises(grpc.RpcError) as error:
        list(stub.GenerateImages(request(steps=MANY_STEPS), timeout=3))
    at_expiry = _decoder_steps(mesh)
    assert error.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert _steps_after(mesh, at_expiry) <= 1


def test_cancels_leave_no_error_in_any_log_and_the_next_call_succeeds(tiny_bundle):
    # A mesh of its own: what a cancel leaves pending is reported when it is collected, at the
    # latest in the collection a server runs when it stops, so the mesh is stopped before its
    # logs are read.
    with (
        LocalMesh(
            tiny_bundle.root, stages=("text_encoder", "prior", "decoder"), stage_args=("--torch-threads", "1")
        ) as own_mesh,
        grpc.insecure_channel(own_mesh.target) as channel,
    ):
        stub = generation_pb2_grpc.GenerationServiceStub(channel)
        _cancel_after_steps(stub, request(prior_steps=MANY_STEPS), generation_pb2.STAGE_PRIOR, 2)
        _cancel_after_steps(stub, request(steps=MANY_STEPS), generation_pb2.STAGE_DECODER, 2)
        responses = list(stub.GenerateImages(request(), timeout=60))
    assert len(responses[-1].event.result.png_images) == 1
    time.sleep(0.3)  # the stderr readers' last lines
    for process in own_mesh.everyone():
        assert process.popen.returncode == 0, process.name
        lines = list(process.stderr_tail)
        assert not [line for line in lines if "Task was destroyed" in line], process.name
        errors = [
            line
            for line in lines
            if line.startswith("{") and json.loads(line)["level"] in ("error", "critical")
        ]
        assert errors == [], process.name
