import json
import logging
import sys

from opentelemetry import trace

from services.telemetry.logging import JsonLinesFormatter


def _record(message="hello %s", args=("world",), exc_info=None, **extra) -> logging.LogRecord:
    record = logging.LogRecord("unclip.test", logging.WARNING, __file__, 1, message, args, exc_info)
    record.__dict__.update(extra)
    return record


def test_a_line_is_one_json_object_with_the_standard_fields_and_extras():
    line = JsonLinesFormatter("unclip-decoder").format(_record(outcome="ok", stage_seconds={"prior": 0.5}))
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "hello world" and parsed["level"] == "warning"
    assert parsed["service"] == "unclip-decoder" and parsed["logger"] == "unclip.test"
    assert parsed["time"].endswith("+00:00")
    assert parsed["outcome"] == "ok" and parsed["stage_seconds"] == {"prior": 0.5}
    assert "trace_id" not in parsed and "args" not in parsed and "msg" not in parsed


def test_inside_a_span_the_line_carries_its_trace_and_span_ids(spans):
    with trace.get_tracer("test").start_as_current_span("work") as span:
        parsed = json.loads(JsonLinesFormatter("unclip-prior").format(_record()))
    context = span.get_span_context()
    assert parsed["trace_id"] == f"{context.trace_id:032x}"
    assert parsed["span_id"] == f"{context.span_id:016x}"


def test_an_exception_is_one_field_and_values_json_cannot_encode_become_text():
    try:
        raise ValueError("boom")
    except ValueError:
        record = _record(exc_info=sys.exc_info(), path=object())
    parsed = json.loads(JsonLinesFormatter("unclip-prior").format(record))
    assert "ValueError: boom" in parsed["exception"] and parsed["path"].startswith("<object")
