"""A grpc.aio channel without a network, on simulated time, for the orchestrator's stage calls.

The generated stubs ask a channel for multicallables (`unary_unary`, `unary_stream`) and call them
with `(request, timeout=, metadata=)`. FakeChannel hands each call, as a Call record, to a `serve`
function (the fake stages) and does what a grpc.aio call does with the answer: messages go through
the stub's serializers (each side holds its own copy), a StageFailure the handler raises reaches the
caller as an AioRpcError with that status, a call that outlasts its timeout on the FakeClock ends
DEADLINE_EXCEEDED, and a caller cancelled while it waits cancels the call.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import grpc
from google.protobuf.message import Message

RUNNING = "RUNNING"
CANCELLED = "CANCELLED"


class FakeClock:
    """Simulated time: stands in for the `time` module (monotonic) of the orchestrator's modules and
    for the `asyncio` module (sleep) of the chain, so backoffs and stage durations cost no real time."""

    def __init__(self):
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.advance(seconds)
        await asyncio.sleep(0)


class StageFailure(Exception):
    """Raised by a fake stage handler: the status the call ends with."""

    def __init__(self, code: grpc.StatusCode, details: str = ""):
        super().__init__(f"{code.name}: {details}")
        self.code = code
        self.details = details


@dataclass
class Call:
    """One call a stage received, as the stage parsed it, and how it went."""

    stage: str
    address: str
    service: str  # e.g. "unclip.v1.DecoderService"
    method: str  # e.g. "DecodeImage"
    request: Message
    timeout: float | None
    metadata: tuple
    replies: list[Message] = field(default_factory=list)
    outcome: str = RUNNING  # then "OK", another status code's name, or CANCELLED


Serve = Callable[[Call], Awaitable[Message] | AsyncIterator[Message]]


def _rpc_error(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


class FakeChannel:
    """One replica's channel: what the stubs call goes to `serve` (unary: a coroutine giving the
    reply; streaming: an async iterator of replies)."""

    def __init__(self, stage: str, address: str, serve: Serve, clock: FakeClock):
        self.stage = stage
        self.address = address
        self._serve = serve
        self._clock = clock
        self.closed = False
        self.connectivity = grpc.ChannelConnectivity.READY  # TRANSIENT_FAILURE: the replica is gone

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self.connectivity

    def unary_unary(
        self,
        method: str,
        request_serializer: Callable,
        response_deserializer: Callable,
        _registered_method: bool = False,
    ) -> Callable:
        def multicallable(request, *, timeout=None, metadata=None):
            return self._unary(
                self._start(method, request_serializer, request, timeout, metadata), response_deserializer
            )

        return multicallable

    def unary_stream(
        self,
        method: str,
        request_serializer: Callable,
        response_deserializer: Callable,
        _registered_method: bool = False,
    ) -> Callable:
        def multicallable(request, *, timeout=None, metadata=None):
            return FakeStreamCall(
                self._start(method, request_serializer, request, timeout, metadata),
                self._serve,
                response_deserializer,
                self._clock,
            )

        return multicallable

    async def close(self) -> None:
        self.closed = True

    def _start(
        self, path: str, serialize: Callable, request: Message, timeout: float | None, metadata
    ) -> Call:
        service, method = path.strip("/").split("/")
        return Call(
            stage=self.stage,
            address=self.address,
            service=service,
            method=method,
            request=type(request).FromString(serialize(request)),
            timeout=timeout,
            metadata=tuple(metadata or ()),
        )

    async def _unary(self, call: Call, deserialize: Callable) -> Message:
        started = self._clock.now
        try:
            reply = await self._serve(call)
            _check_deadline(call, started, self._clock)
        except StageFailure as failure:
            call.outcome = failure.code.name
            raise _rpc_error(failure.code, failure.details) from None
        except asyncio.CancelledError:
            call.outcome = CANCELLED
            raise
        call.replies.append(reply)
        call.outcome = grpc.StatusCode.OK.name
        return deserialize(reply.SerializeToString())


def _check_deadline(call: Call, started: float, clock: FakeClock) -> None:
    if call.timeout is not None and clock.now - started > call.timeout:
        raise StageFailure(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")


class FakeStreamCall:
    """A server-streaming call: iterating it relays the handler's replies."""

    def __init__(self, call: Call, serve: Serve, deserialize: Callable, clock: FakeClock):
        self.call = call
        self._serve = serve
        self._deserialize = deserialize
        self._clock = clock

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._relay()

    async def _relay(self) -> AsyncIterator[Message]:
        started = self._clock.now
        replies = self._serve(self.call)
        try:
            async for reply in replies:
                _check_deadline(self.call, started, self._clock)
                self.call.replies.append(reply)
                yield self._deserialize(reply.SerializeToString())
            self.call.outcome = grpc.StatusCode.OK.name
        except StageFailure as failure:
            self.call.outcome = failure.code.name
            raise _rpc_error(failure.code, failure.details) from None
        finally:
            if self.call.outcome == RUNNING:  # the caller was cancelled, or stopped reading
                self.call.outcome = CANCELLED
            await replies.aclose()
