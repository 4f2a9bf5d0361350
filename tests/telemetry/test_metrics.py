import asyncio
import urllib.request

import grpc
import pytest
from prometheus_client.parser import text_string_to_metric_families

from services.telemetry.metrics import REGISTRY, export_stage_gauges, observed_rpc, serve_metrics


class FakeContext:
    def __init__(self, code: grpc.StatusCode | None = None):
        self._code = code

    def code(self):
        return self._code


def _value(name: str, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def _observe(stage: str, context: FakeContext, error: BaseException | None) -> None:
    async with observed_rpc(stage, "Run", context):
        if error is not None:
            raise error


@pytest.mark.parametrize(
    "code, context, error",
    [
        ("OK", FakeContext(), None),
        ("INVALID_ARGUMENT", FakeContext(grpc.StatusCode.INVALID_ARGUMENT), grpc.aio.AbortError()),
        ("CANCELLED", FakeContext(), asyncio.CancelledError()),
        ("UNKNOWN", FakeContext(), RuntimeError("bug")),
    ],
)
def test_a_call_is_counted_under_its_final_code_and_timed(code, context, error):
    stage = f"test_{code.lower()}"
    try:
        asyncio.run(_observe(stage, context, error))
    except BaseException as raised:  # the error passes through unchanged
        assert raised is error
    assert _value("unclip_rpc_requests_total", stage=stage, method="Run", code=code) == 1
    assert _value("unclip_rpc_duration_seconds_count", stage=stage, method="Run") == 1


def test_refusal_series_exist_at_zero_from_a_methods_first_call():
    asyncio.run(_observe("test_preset", FakeContext(), None))
    for code in ("RESOURCE_EXHAUSTED", "UNAVAILABLE"):
        assert (
            REGISTRY.get_sample_value(
                "unclip_rpc_requests_total", {"stage": "test_preset", "method": "Run", "code": code}
            )
            == 0
        )


def test_the_autoscaler_gauges_exist_from_the_start_and_follow_in_flight():
    in_flight = [0]
    export_stage_gauges("test_gauges", lambda: in_flight[0])
    assert _value("unclip_queue_depth", stage="test_gauges") == 0
    in_flight[0] = 3
    assert _value("unclip_inflight_requests", stage="test_gauges") == 3


def test_the_endpoint_serves_the_registry_as_prometheus_text_with_unclip_names():
    export_stage_gauges("test_endpoint", lambda: 2)
    port = serve_metrics("127.0.0.1", 0)
    assert port > 0
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        families = list(text_string_to_metric_families(reply.read().decode()))
    assert families and all(family.name.startswith("unclip_") for family in families)
    samples = {(s.name, s.labels.get("stage")): s.value for f in families for s in f.samples}
    assert samples[("unclip_inflight_requests", "test_endpoint")] == 2
