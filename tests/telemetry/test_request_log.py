import asyncio
import logging

import grpc
import pytest

from services.runtime.errors import InvalidArgument
from services.telemetry.request_log import logged_request
from services.telemetry.tracing import tracer
from unclip.v1 import generation_pb2

Event = generation_pb2.GenerationEvent


class Context:
    def code(self):
        return None


class Service:
    def __init__(self, events: list[Event], error: Exception | None = None):
        self.events, self.error = events, error

    @logged_request
    async def GenerateImages(self, request, context):
        for event in self.events:
            yield generation_pb2.GenerateImagesResponse(event=event)
        if self.error is not None:
            raise self.error


def _run(service: Service, request) -> None:
    async def drain():
        with tracer().start_as_current_span("server"):
            return [r async for r in service.GenerateImages(request, Context())]

    asyncio.run(drain())


def _finished(stage: int, seconds: float) -> Event:
    return Event(stage_finished=generation_pb2.StageFinished(stage=stage, seconds=seconds))


def test_one_line_per_request_with_stage_timings_seed_and_span_attributes(spans, caplog):
    events = [
        _finished(generation_pb2.STAGE_TEXT_ENCODER, 0.25),
        _finished(generation_pb2.STAGE_UPSAMPLER_256, 1.5),
        Event(result=generation_pb2.GeneratedImages(seed=11)),
    ]
    with caplog.at_level(logging.INFO, logger="unclip.requests"):
        _run(Service(events), generation_pb2.GenerateImagesRequest(prompt="p", num_images=2))
    (record,) = caplog.records
    assert record.levelno == logging.INFO and record.getMessage().startswith("GenerateImages OK in")
    assert (record.outcome, record.status_code, record.seed, record.num_images) == ("ok", "OK", 11, 2)
    assert record.stage_seconds == {"text_encoder": 0.25, "upsampler_256": 1.5}
    (server,) = spans.get_finished_spans()
    assert server.attributes["unclip.seed"] == 11 and server.attributes["unclip.num_images"] == 2


@pytest.mark.parametrize(
    "error, code, outcome",
    [
        (InvalidArgument("prompt", "must not be empty"), "INVALID_ARGUMENT", "error"),
        (RuntimeError("bug"), "INTERNAL", "error"),
    ],
)
def test_a_failed_request_logs_its_code_at_warning(spans, caplog, error, code, outcome):
    with caplog.at_level(logging.INFO, logger="unclip.requests"), pytest.raises(type(error)):
        _run(Service([], error), generation_pb2.GenerateImagesRequest(prompt="p", seed=3))
    (record,) = caplog.records
    assert record.levelno == logging.WARNING
    assert (record.status_code, record.outcome, record.seed) == (code, outcome, 3)
    assert getattr(record, "error", None) == (error.message if code == "INVALID_ARGUMENT" else None)


def test_a_cancelled_request_is_logged_as_cancelled(caplog):
    async def cancelled():
        stream = Service([Event()] * 2).GenerateImages(generation_pb2.GenerateImagesRequest(), Context())
        await stream.__anext__()
        await stream.aclose()

    with caplog.at_level(logging.INFO, logger="unclip.requests"):
        asyncio.run(cancelled())
    (record,) = caplog.records
    assert (record.status_code, record.outcome) == (grpc.StatusCode.CANCELLED.name, "cancelled")
