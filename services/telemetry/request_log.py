"""The orchestrator's record of each public request: one log line and its span's attributes.

`@logged_request` goes on a GenerationService method (under @grpc_errors, so it sees the chain's own
errors): it watches the events the method streams, puts the request's knobs and seed on the
current (server) span, and logs one line when the call ends: method, outcome, status code, total
and per-stage seconds, seed. The line carries the trace id like every log line.
"""

import functools
import logging
import time
from collections.abc import AsyncIterator, Callable

import grpc
from opentelemetry import trace

from services.runtime.errors import StageError
from services.telemetry.metrics import status_name
from unclip.v1 import generation_pb2

logger = logging.getLogger("unclip.requests")

_REQUEST_FIELDS = ("num_images", "size", "seed")


def _stage_name(stage: int) -> str:
    return generation_pb2.Stage.Name(stage).removeprefix("STAGE_").lower()


def _status(error: BaseException | None, context: grpc.aio.ServicerContext) -> grpc.StatusCode:
    """The code the caller gets; other exceptions become INTERNAL in grpc_errors."""
    if isinstance(error, StageError):
        return error.code
    if isinstance(error, Exception) and not isinstance(error, grpc.aio.AbortError):
        return grpc.StatusCode.INTERNAL
    return grpc.StatusCode[status_name(error, context)]


class _Record:
    def __init__(self, method: str, request):
        self.method = method
        self.started = time.perf_counter()
        self.stage_seconds: dict[str, float] = {}
        present = request.DESCRIPTOR.fields_by_name
        self.fields = {
            f: getattr(request, f)
            for f in _REQUEST_FIELDS
            if f in present and (f != "seed" or request.HasField("seed"))
        }
        self.span = trace.get_current_span()
        self.span.set_attributes({f"unclip.{k}": v for k, v in self.fields.items()})

    def saw(self, event: generation_pb2.GenerationEvent) -> None:
        if event.HasField("stage_finished"):
            finished = event.stage_finished
            self.stage_seconds[_stage_name(finished.stage)] = round(finished.seconds, 4)
        elif event.HasField("result"):
            self.fields["seed"] = event.result.seed
            self.span.set_attribute("unclip.seed", event.result.seed)

    def log(self, code: grpc.StatusCode, error: BaseException | None) -> None:
        seconds = time.perf_counter() - self.started
        outcome = (
            "ok"
            if code == grpc.StatusCode.OK
            else "cancelled"
            if code == grpc.StatusCode.CANCELLED
            else "error"
        )
        extra = {
            "rpc_method": self.method,
            "outcome": outcome,
            "status_code": code.name,
            "seconds": round(seconds, 4),
            "stage_seconds": self.stage_seconds,
            **self.fields,
        }
        if isinstance(error, StageError):
            extra["error"] = error.message
        logger.log(
            logging.INFO if outcome == "ok" else logging.WARNING,
            "%s %s in %.3f s",
            self.method,
            code.name,
            seconds,
            extra=extra,
        )


def logged_request(method: Callable) -> Callable:
    """Decorates an async-generator servicer method whose responses carry `.event`."""

    @functools.wraps(method)
    async def logged(self, request, context) -> AsyncIterator:
        record = _Record(method.__name__, request)
        error: BaseException | None = None
        try:
            async for response in method(self, request, context):
                record.saw(response.event)
                yield response
        except BaseException as raised:
            error = raised
            raise
        finally:
            record.log(_status(error, context), error)

    return logged
