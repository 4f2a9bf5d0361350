import asyncio
import contextlib
import inspect
import logging

import grpc
import pytest

from services.runtime import errors
from services.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    StageError,
    Unavailable,
    grpc_errors,
)
from services.runtime.rich_status import FailureDetails, Violation, read_details

SECRET = "secret-detail-7f3a"

FAILURES = {
    b"invalid": InvalidArgument("sampling.guidance_scale", "must be finite"),
    b"busy": ResourceExhausted("queue full"),
    b"down": Unavailable("decoder", "no replica"),
    b"late": DeadlineExceeded("too late"),
    b"precondition": FailedPrecondition("not loaded"),
    b"bug": RuntimeError(f"boom {SECRET}"),
}


class Servicer:
    @grpc_errors
    async def Unary(self, request: bytes, context) -> bytes:
        """Answers b"ok", aborts itself on b"abort", raises FAILURES[request] otherwise."""
        if request == b"abort":
            await context.abort(grpc.StatusCode.NOT_FOUND, "not here")
        if request in FAILURES:
            raise FAILURES[request]
        return b"ok"

    @grpc_errors
    async def Stream(self, request: bytes, context):
        yield b"first"
        if request in FAILURES:
            raise FAILURES[request]
        yield b"second"


@contextlib.asynccontextmanager
async def serving():
    servicer = Servicer()
    server = grpc.aio.server()
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(
                "test.Errors",
                {
                    "Unary": grpc.unary_unary_rpc_method_handler(servicer.Unary),
                    "Stream": grpc.unary_stream_rpc_method_handler(servicer.Stream),
                },
            )
        ]
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield channel
    finally:
        await server.stop(None)


async def unary(request: bytes) -> bytes:
    async with serving() as channel:
        return await channel.unary_unary("/test.Errors/Unary")(request, timeout=10)


async def stream(request: bytes) -> tuple[list[bytes], grpc.aio.AioRpcError | None]:
    received = []
    async with serving() as channel:
        try:
            async for response in channel.unary_stream("/test.Errors/Stream")(request, timeout=10):
                received.append(response)
        except grpc.aio.AioRpcError as error:
            return received, error
    return received, None


EXPECTED = {
    b"invalid": (grpc.StatusCode.INVALID_ARGUMENT, "sampling.guidance_scale: must be finite"),
    b"busy": (grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full"),
    b"down": (grpc.StatusCode.UNAVAILABLE, "decoder stage unavailable: no replica"),
    b"late": (grpc.StatusCode.DEADLINE_EXCEEDED, "too late"),
    b"precondition": (grpc.StatusCode.FAILED_PRECONDITION, "not loaded"),
    b"bug": (grpc.StatusCode.INTERNAL, "internal error"),
}


@pytest.mark.parametrize("request_bytes", list(EXPECTED), ids=lambda b: b.decode())
def test_unary_status(request_bytes):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(unary(request_bytes))
    assert (caught.value.code(), caught.value.details()) == EXPECTED[request_bytes]


@pytest.mark.parametrize("request_bytes", list(EXPECTED), ids=lambda b: b.decode())
def test_streaming_status_after_a_response(request_bytes):
    received, error = asyncio.run(stream(request_bytes))
    assert received == [b"first"]
    assert (error.code(), error.details()) == EXPECTED[request_bytes]


DETAILS = {
    b"invalid": FailureDetails(violations=(Violation("sampling.guidance_scale", "must be finite"),)),
    b"busy": FailureDetails(retry_after_seconds=1.0),
    b"down": FailureDetails(reason="STAGE_UNAVAILABLE", stage="decoder"),
    b"late": FailureDetails(),
    b"precondition": FailureDetails(),
    b"bug": FailureDetails(),
}


@pytest.mark.parametrize("request_bytes", list(DETAILS), ids=lambda b: b.decode())
def test_rich_status_details(request_bytes):
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(unary(request_bytes))
    assert read_details(caught.value) == DETAILS[request_bytes]
    _, error = asyncio.run(stream(request_bytes))
    assert read_details(error) == DETAILS[request_bytes]


def test_no_custom_retry_trailer():
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(unary(b"busy"))
    assert [key for key, _ in caught.value.trailing_metadata()] == ["grpc-status-details-bin"]


def test_a_known_stage_is_named_in_every_status():
    for error in (
        InvalidArgument("prompt", "empty", stage="orchestrator"),
        ResourceExhausted("full", 3.0, stage="orchestrator"),
        DeadlineExceeded("late", stage="orchestrator"),
        FailedPrecondition("no prior", stage="orchestrator"),
    ):
        assert error.status().code == error.code
        assert error.details()[-1].metadata["stage"] == "orchestrator"


def test_success_passes_through():
    assert asyncio.run(unary(b"ok")) == b"ok"
    assert asyncio.run(stream(b"ok")) == ([b"first", b"second"], None)


def test_abort_by_the_method_is_kept():
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        asyncio.run(unary(b"abort"))
    assert (caught.value.code(), caught.value.details()) == (grpc.StatusCode.NOT_FOUND, "not here")


def test_internal_error_is_logged_with_traceback_but_not_sent(caplog):
    with (
        caplog.at_level(logging.ERROR, logger=errors.__name__),
        pytest.raises(grpc.aio.AioRpcError) as caught,
    ):
        asyncio.run(unary(b"bug"))
    assert SECRET not in (caught.value.details() or "")
    assert SECRET not in str(caught.value.trailing_metadata() or "")
    record = next(r for r in caplog.records if r.name == errors.__name__)
    assert record.exc_info and SECRET in str(record.exc_info[1])
    assert "Servicer.Unary" in record.getMessage()


class FakeContext:
    def __init__(self):
        self.aborted = None

    async def abort(self, code, message):
        self.aborted = (code, message)
        raise grpc.aio.AbortError()


def test_cancellation_passes_through():
    @grpc_errors
    async def cancelled(request, context):
        raise asyncio.CancelledError()

    context = FakeContext()
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(cancelled(b"", context))
    assert context.aborted is None


def test_signature_and_name_are_kept():
    assert list(inspect.signature(Servicer.Unary).parameters) == ["self", "request", "context"]
    assert Servicer.Stream.__name__ == "Stream"
    assert inspect.isasyncgenfunction(Servicer.Stream)
    assert inspect.iscoroutinefunction(Servicer.Unary)


def test_plain_functions_are_refused():
    with pytest.raises(TypeError):
        grpc_errors(lambda request, context: None)


def test_stage_error_carries_code_and_message():
    error = InvalidArgument("random.seed", "required")
    assert isinstance(error, StageError)
    assert (error.code, error.message, str(error)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "random.seed: required",
        "random.seed: required",
    )
