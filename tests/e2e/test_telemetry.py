"""Traces, metrics and logs of the mesh as processes: one request's trace across all six, counters
that move, and the trace id in the log line of a failed request.

Spans are exported only when the processes stop (the batch delay is longer than the test), so the
trace also shows that a stopping process flushes its spans.
"""

import json
import secrets
from dataclasses import dataclass

import grpc
import pytest

from services.stage_registry import model_stages
from tests.e2e.metered_mesh import MeteredMesh
from tests.telemetry.otlp_receiver import ReceivedSpan, trace_receiver
from unclip.v1 import generation_pb2, generation_pb2_grpc
from unclip_mesh.bundles.tiny import write_tiny_bundle

pytestmark = pytest.mark.e2e

SERVICES = ("orchestrator", *model_stages())
DIFFUSION = ("prior", "decoder", "upsampler_256", "upsampler_1024")
SERVER, CLIENT = 2, 3  # OTLP SpanKind values


def _traceparent() -> tuple[str, str, str]:
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    return trace_id, span_id, f"00-{trace_id}-{span_id}-01"


def _request(**changes) -> generation_pb2.GenerateImagesRequest:
    request = generation_pb2.GenerateImagesRequest(
        prompt="a red circle", seed=7, size=generation_pb2.IMAGE_SIZE_1024, **changes
    )
    for stage in DIFFUSION:
        getattr(request, stage).num_inference_steps = 2
    return request


@dataclass
class Observed:
    trace_id: str
    caller_span: str
    spans: list[ReceivedSpan]
    before: dict
    after: dict
    failed_trace_id: str
    orchestrator_log: list[dict]


@pytest.fixture(scope="module")
def observed(tmp_path_factory) -> Observed:
    bundle = write_tiny_bundle(tmp_path_factory.mktemp("bundle"), seed=0)
    with trace_receiver() as (receiver, port):
        env = {
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
            "OTEL_EXPORTER_OTLP_INSECURE": "true",
            "OTEL_BSP_SCHEDULE_DELAY": "600000",
        }
        mesh = MeteredMesh(bundle.root, stage_args=("--torch-threads", "1", "--grace-seconds", "5"), env=env)
        with mesh:
            stub = generation_pb2_grpc.GenerationServiceStub(grpc.insecure_channel(mesh.target))
            before = mesh.scrape()
            trace_id, caller_span, traceparent = _traceparent()
            events = list(
                stub.GenerateImages(_request(), timeout=120, metadata=[("traceparent", traceparent)])
            )
            assert events[-1].event.HasField("result")
            failed_trace_id, _, failing = _traceparent()
            with pytest.raises(grpc.RpcError):
                list(
                    stub.GenerateImages(
                        _request(num_images=99), timeout=30, metadata=[("traceparent", failing)]
                    )
                )
            after = mesh.scrape()
        # Stopped: every process has flushed its spans on the way out.
        spans = receiver.of_trace(trace_id)
        lines = [json.loads(line) for line in mesh.orchestrator.stderr_tail if line.startswith("{")]
    return Observed(trace_id, caller_span, spans, before, after, failed_trace_id, lines)


def _only(spans: list[ReceivedSpan], stage: str | None = None, **match) -> ReceivedSpan:
    """The one span with the `match`ing fields (and `unclip.stage` attribute, if given)."""
    found = [
        s
        for s in spans
        if all(getattr(s, k) == v for k, v in match.items())
        and (stage is None or s.attributes.get("unclip.stage") == stage)
    ]
    assert len(found) == 1, (stage, match, found)
    return found[0]


def test_one_trace_holds_spans_of_all_six_processes_in_order(observed):
    spans = observed.spans
    assert {s.service for s in spans} == {f"unclip-{name}" for name in SERVICES}
    request = _only(spans, service="unclip-orchestrator", kind=SERVER)
    assert request.name == "/unclip.v1.GenerationService/GenerateImages"
    assert request.parent_id == observed.caller_span
    assert request.attributes["unclip.seed"] == 7
    for stage in model_stages():
        call = _only(spans, stage, service="unclip-orchestrator", kind=CLIENT)
        assert call.parent_id == request.span_id
        served = _only(spans, service=f"unclip-{stage}", kind=SERVER)
        assert served.parent_id == call.span_id
        if stage in DIFFUSION:
            loop = _only(spans, service=f"unclip-{stage}", name="sampling loop")
            assert loop.parent_id == served.span_id
            assert loop.attributes["unclip.steps"] == 2 and "unclip.guidance_scale" in loop.attributes
            batches = [s for s in spans if s.service == f"unclip-{stage}" and s.name == "batch forward"]
            assert len(batches) == 2
            assert all(
                b.parent_id == loop.span_id
                and loop.span_id in b.links
                and b.attributes["unclip.batch_size"] == 1
                for b in batches
            )


def _total(samples: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in samples.items() if k.startswith(prefix))


def test_every_metrics_endpoint_parses_and_its_counters_moved(observed):
    for service in SERVICES:
        before, after = observed.before[service], observed.after[service]
        label = f"('stage', '{service}')"
        assert f"unclip_inflight_requests[{label}]" in after
        assert f"unclip_queue_depth[{label}]" in after
        assert _total(after, "unclip_rpc_requests_total") > _total(before, "unclip_rpc_requests_total")
        assert _total(after, "unclip_rpc_duration_seconds_count") > _total(
            before, "unclip_rpc_duration_seconds_count"
        )
        if service in DIFFUSION:
            for name in ("unclip_batch_size_count", "unclip_denoise_step_seconds_count"):
                assert _total(after, name) - _total(before, name) == 2, (service, name)
        if service != "orchestrator":
            assert after[f"unclip_model_load_seconds[{label}]"] > 0
    orchestrator = observed.after["orchestrator"]
    for stage in model_stages():
        assert (
            orchestrator[f"unclip_stage_call_duration_seconds_count[('code', 'OK'), ('stage', '{stage}')]"]
            == 1
        )
    assert (
        orchestrator[
            "unclip_rpc_requests_total[('code', 'INVALID_ARGUMENT'), "
            "('method', 'GenerateImages'), ('stage', 'orchestrator')]"
        ]
        == 1
    )


def test_one_log_line_per_request_and_the_failed_one_carries_its_trace_id(observed):
    requests = [line for line in observed.orchestrator_log if line.get("rpc_method") == "GenerateImages"]
    assert len(requests) == 2
    ok, failed = requests
    assert ok["trace_id"] == observed.trace_id and ok["outcome"] == "ok"
    assert set(ok["stage_seconds"]) == set(model_stages()) and ok["seed"] == 7
    assert failed["trace_id"] == observed.failed_trace_id
    assert failed["outcome"] == "error" and failed["status_code"] == "INVALID_ARGUMENT"
    assert failed["error"].startswith("num_images")
