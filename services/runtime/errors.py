"""Errors a stage reports to its caller, and their mapping to gRPC status codes.

Servicer code raises a StageError subclass; the `grpc_errors` decorator turns it into the matching
status, its details in gRPC's rich status (services/runtime/rich_status.py): the field of a bad
request, the retry delay of an overload, the stage that failed. Anything else is a bug: it is
logged with its traceback and the caller sees only INTERNAL "internal error", never the trace.
"""

import functools
import inspect
import logging
from collections.abc import Callable

import grpc
from google.protobuf.message import Message

from services.runtime import rich_status

logger = logging.getLogger(__name__)

INTERNAL_MESSAGE = "internal error"


class StageError(Exception):
    """An error meant for the caller: a status code, a message safe to send on the wire and, when
    known, the stage that failed (an ErrorInfo whose reason is the class's info_reason)."""

    info_reason = "STAGE_ERROR"

    def __init__(self, code: grpc.StatusCode, message: str, *, stage: str | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.stage = stage

    def details(self) -> list[Message]:
        """The rich status's details."""
        return [rich_status.error_info(self.info_reason, self.stage)] if self.stage else []

    def status(self) -> grpc.Status:
        return rich_status.status(self.code, self.message, self.details())


class InvalidArgument(StageError):
    """Bad input: a BadRequest naming the field; the message too: "FIELD: REASON"."""

    info_reason = "INVALID_FIELD"

    def __init__(self, field: str, reason: str, *, stage: str | None = None):
        super().__init__(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: {reason}", stage=stage)
        self.field = field
        self.description = reason

    def details(self) -> list[Message]:
        return [rich_status.field_violation(self.field, self.description), *super().details()]


class ResourceExhausted(StageError):
    """Overload: the caller should back off (RetryInfo) or try another replica."""

    info_reason = "OVERLOADED"

    def __init__(self, reason: str, retry_after_seconds: float = 1.0, *, stage: str | None = None):
        super().__init__(grpc.StatusCode.RESOURCE_EXHAUSTED, reason, stage=stage)
        self.retry_after_seconds = retry_after_seconds

    def details(self) -> list[Message]:
        return [rich_status.retry_info(self.retry_after_seconds), *super().details()]


class Unavailable(StageError):
    """A stage cannot serve: "STAGE stage unavailable: REASON"."""

    info_reason = "STAGE_UNAVAILABLE"

    def __init__(self, stage: str, reason: str):
        super().__init__(grpc.StatusCode.UNAVAILABLE, f"{stage} stage unavailable: {reason}", stage=stage)


class DeadlineExceeded(StageError):
    info_reason = "DEADLINE_EXCEEDED"

    def __init__(self, reason: str, *, stage: str | None = None):
        super().__init__(grpc.StatusCode.DEADLINE_EXCEEDED, reason, stage=stage)


class FailedPrecondition(StageError):
    """The request is well formed but cannot run in the server's current state."""

    info_reason = "FAILED_PRECONDITION"

    def __init__(self, reason: str, *, stage: str | None = None):
        super().__init__(grpc.StatusCode.FAILED_PRECONDITION, reason, stage=stage)


class Internal(StageError):
    """A stage's bug, as the stage's caller reports it: "STAGE stage: internal error"."""

    info_reason = "STAGE_INTERNAL_ERROR"

    def __init__(self, stage: str, detail: str = INTERNAL_MESSAGE):
        super().__init__(grpc.StatusCode.INTERNAL, f"{stage} stage: {detail}", stage=stage)


async def abort(context: grpc.aio.ServicerContext, error: StageError) -> None:
    """Ends the call with the error's status and details (context.abort raises)."""
    await context.abort_with_status(error.status())


async def _abort(error: Exception, method: Callable, context: grpc.aio.ServicerContext) -> None:
    if isinstance(error, StageError):
        logger.debug("%s: %s %s", method.__qualname__, error.code.name, error.message)
        await abort(context, error)
    else:
        logger.error("unexpected error in %s", method.__qualname__, exc_info=error)
        await context.abort(grpc.StatusCode.INTERNAL, INTERNAL_MESSAGE)


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
            except Exception as error:  # every error becomes a status
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
        except Exception as error:  # every error becomes a status
            await _abort(error, method, args[-1])

    return unary
