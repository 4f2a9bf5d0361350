"""Errors a stage reports to its caller, and their mapping to gRPC status codes.

Servicer code raises a StageError subclass; the `grpc_errors` decorator turns it into the matching
status. Anything else is a bug: it is logged with its traceback and the caller sees only INTERNAL
"internal error", never the trace.
"""

import functools
import inspect
import logging
from collections.abc import Callable

import grpc

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error"


class StageError(Exception):
    """An error meant for the caller: a status code and a message safe to send on the wire."""

    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class InvalidArgument(StageError):
    """Bad input; the message names the offending field: "FIELD: REASON"."""

    def __init__(self, field: str, reason: str):
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {reason}")
        self.field = field
        self.reason = reason


RETRY_AFTER_KEY = "retry-after-ms"


class ResourceExhausted(StageError):
    """Overload: the caller should back off (the `retry-after-ms` trailer) or try another replica."""

    def __init__(self, reason: str, retry_after_seconds: float = 1.0):
        super().__init__(grpc.StatusCode.RESOURCE_EXHAUSTED, reason)
        self.retry_after_seconds = retry_after_seconds


class Unavailable(StageError):
    """A stage cannot serve: "STAGE stage unavailable: REASON"."""

    def __init__(self, stage: str, reason: str):
        super().__init__(grpc.StatusCode.UNAVAILABLE, f"{stage} stage unavailable: {reason}")
        self.stage = stage


class DeadlineExceeded(StageError):
    def __init__(self, reason: str):
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED, reason)


class FailedPrecondition(StageError):
    """The request is well formed but cannot run in the server's current state."""

    def __init__(self, reason: str):
        super().__init__(grpc.StatusCode.FAILED_PRECONDITION, reason)


async def _abort(error: Exception, method: Callable, context: grpc.aio.ServicerContext) -> None:
    """Ends the call with the error's status (context.abort raises, ending the method)."""
    if isinstance(error, StageError):
        logger.debug("%s: %s %s", method.__qualname__, error.code.name, error.message)
        code, message = error.code, error.message
        if isinstance(error, ResourceExhausted):
            context.set_trailing_metadata(
                ((RETRY_AFTER_KEY, str(round(error.retry_after_seconds * 1000))),))
    else:
        logger.error("unexpected error in %s", method.__qualname__, exc_info=error)
        code, message = grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE
    await context.abort(code, message)


def grpc_errors(method: Callable) -> Callable:
    """Decorates a grpc.aio servicer method (coroutine or async generator) with the error mapping.

    The gRPC context is the method's last positional argument, as grpc passes it. An abort the
    method made itself (grpc.aio.AbortError) and cancellation pass through untouched.
    """
    if inspect.isasyncgenfunction(method):
        @functools.wraps(method)
        async def streaming(*args):
            try:
                async for response in method(*args):
                    yield response
            except grpc.aio.AbortError:
                raise
            except Exception as error:  # noqa: BLE001 - every error becomes a status
                await _abort(error, method, args[-1])
        return streaming

    if not inspect.iscoroutinefunction(method):
        raise TypeError(f"grpc_errors needs an async def or async generator method, got {method!r}")

    @functools.wraps(method)
    async def unary(*args):
        try:
            return await method(*args)
        except grpc.aio.AbortError:
            raise
        except Exception as error:  # noqa: BLE001 - every error becomes a status
            await _abort(error, method, args[-1])
    return unary
