import pytest

from services.telemetry.tracing import batch_span, exporter_names


@pytest.mark.parametrize(
    "environ, names",
    [
        ({}, []),
        ({"OTEL_TRACES_EXPORTER": "none"}, []),
        ({"OTEL_TRACES_EXPORTER": " NONE "}, []),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, ["otlp_proto_grpc"]),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf"},
            ["otlp_proto_http"],
        ),
        (
            {
                "OTEL_TRACES_EXPORTER": "otlp,console",
                "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc",
            },
            ["otlp_proto_grpc", "console"],
        ),
    ],
)
def test_exporters_come_from_otel_traces_exporter_and_are_off_by_default(environ, names):
    assert exporter_names(environ) == names


def test_an_unknown_otlp_protocol_is_refused_by_name():
    with pytest.raises(ValueError, match="OTEL_EXPORTER_OTLP_PROTOCOL"):
        exporter_names({"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "smoke"})


def test_a_batch_span_is_a_child_of_the_first_request_and_links_every_request(spans):
    from opentelemetry import trace

    tracer = trace.get_tracer("test")
    first, second = (tracer.start_span(name) for name in ("first", "second"))
    requests = [first.get_span_context(), trace.INVALID_SPAN_CONTEXT, second.get_span_context()]
    with batch_span("batch forward", requests, {"unclip.batch_size": 3}):
        pass
    (batch,) = spans.get_finished_spans()
    assert batch.parent.span_id == first.get_span_context().span_id
    assert batch.context.trace_id == first.get_span_context().trace_id
    assert [link.context for link in batch.links] == [first.get_span_context(), second.get_span_context()]
    assert batch.attributes["unclip.batch_size"] == 3
