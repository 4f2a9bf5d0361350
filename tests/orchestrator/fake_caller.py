"""The orchestrator's caller, faked: a GenerationService method driven without a server, ending with
the status a real caller would see (what grpc_errors aborted with, else OK) and its rich details."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import grpc

from services.runtime.rich_status import FailureDetails, read_details
from unclip.v1 import generation_pb2

Event = generation_pb2.GenerationEvent


class FakeServicerContext:
    """The parts of grpc.aio.ServicerContext the servicer and its decorators use."""

    def __init__(self, time_remaining: float | None):
        self._time_remaining = time_remaining
        self._code: grpc.StatusCode | None = None
        self.details = ""
        self.trailing_metadata: tuple = ()

    def time_remaining(self) -> float | None:
        return self._time_remaining

    async def abort(self, code: grpc.StatusCode, details: str) -> None:
        self._code, self.details = code, details
        raise grpc.aio.AbortError()

    async def abort_with_status(self, status: grpc.Status) -> None:
        self.trailing_metadata = tuple(status.trailing_metadata or ())
        await self.abort(status.code, status.details)

    def failure(self) -> FailureDetails:
        """The status's details as the caller reads them from the trailers."""
        error = grpc.aio.AioRpcError(
            self.code() or grpc.StatusCode.OK,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(*self.trailing_metadata),
            details=self.details,
        )
        return read_details(error)

    def code(self) -> grpc.StatusCode | None:
        return self._code


@dataclass
class Answer:
    """What the caller received: the events, then the call's status and its rich details."""

    events: list[Event]
    code: grpc.StatusCode
    details: str
    failure: FailureDetails

    @property
    def result(self) -> generation_pb2.GeneratedImages:
        assert self.events[-1].HasField("result"), self.details
        return self.events[-1].result


async def answer(method: Callable, request, time_remaining: float | None = None) -> Answer:
    """Drains `method` (e.g. servicer.GenerateImages) for `request` under a deadline this far off."""
    context = FakeServicerContext(time_remaining)
    events = []
    try:
        async for response in method(request, context):
            events.append(response.event)
    except grpc.aio.AbortError:
        pass
    return Answer(events, context.code() or grpc.StatusCode.OK, context.details, context.failure())


def ask(method: Callable, request, time_remaining: float | None = None) -> Answer:
    return asyncio.run(answer(method, request, time_remaining))
