"""Trace context across gRPC hops: a server span per call, a client span per stage call.

Servers use opentelemetry-instrumentation-grpc's aio interceptor (it extracts the W3C traceparent
from the call's metadata; checked with server-streaming calls). The orchestrator's channels use
stage_call_interceptors() instead of the package's client interceptors: the span must name the
stage and replica (both upsamplers share one method), and the stage's latency is measured here too.
"""

import asyncio
import time

import grpc
from opentelemetry import propagate, trace
from opentelemetry.instrumentation.grpc import aio_server_interceptor
from opentelemetry.instrumentation.grpc.filters import any_of, negate, service_prefix
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.telemetry.metrics import STAGE_CALL_SECONDS
from services.telemetry.tracing import tracer

# Probes and tooling, not requests: no spans for them.
_UNTRACED = negate(any_of(service_prefix("grpc.health."), service_prefix("grpc.reflection.")))


def server_tracing_interceptor() -> grpc.aio.ServerInterceptor:
    """A SERVER span per call, child of the caller's span when the call carries a traceparent."""
    return aio_server_interceptor(filter_=_UNTRACED)


def stage_call_interceptors(stage: str, address: str) -> list[grpc.aio.ClientInterceptor]:
    """For a channel to one replica of `stage`: its unary and server-streaming calls traced and
    timed (a grpc.aio channel files each interceptor under one call type only, hence two)."""
    return [_UnaryStageCall(stage, address), _StreamingStageCall(stage, address)]


class _StageCall:
    """A CLIENT span per call, whose context travels in the call's metadata, and the call's
    duration in unclip_stage_call_duration_seconds{stage, code}."""

    def __init__(self, stage: str, address: str):
        self._stage = stage
        self._address = address
        self._ending: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks

    async def _traced(self, continuation, details: grpc.aio.ClientCallDetails, request):
        method = details.method.decode() if isinstance(details.method, bytes) else details.method
        service, _, name = method.lstrip("/").rpartition("/")
        span = tracer().start_span(
            f"{self._stage} {name}",
            kind=SpanKind.CLIENT,
            attributes={
                "rpc.system": "grpc",
                "rpc.service": service,
                "rpc.method": name,
                "unclip.stage": self._stage,
                "server.address": self._address,
            },
        )
        started = time.perf_counter()
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        metadata = grpc.aio.Metadata(*(details.metadata or ()), *carrier.items())
        try:
            call = await continuation(details._replace(metadata=metadata), request)
        except BaseException as error:
            self._end(span, started, grpc.StatusCode.UNKNOWN, repr(error))
            raise
        call.add_done_callback(lambda done: self._end_when_known(done, span, started))
        return call

    def _end_when_known(self, call, span: trace.Span, started: float) -> None:
        """A done callback may not await; the call's code and details are read in a task."""
        task = asyncio.ensure_future(self._finish(call, span, started))
        self._ending.add(task)
        task.add_done_callback(self._ending.discard)

    async def _finish(self, call, span: trace.Span, started: float) -> None:
        self._end(span, started, await call.code(), await call.details())

    def _end(self, span: trace.Span, started: float, code: grpc.StatusCode, details: str) -> None:
        STAGE_CALL_SECONDS.labels(self._stage, code.name).observe(time.perf_counter() - started)
        span.set_attribute("rpc.grpc.status_code", code.value[0])
        if code != grpc.StatusCode.OK:
            span.set_status(Status(StatusCode.ERROR, f"{code.name}: {details}"))
        span.end()


class _UnaryStageCall(_StageCall, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation, client_call_details, request):
        return await self._traced(continuation, client_call_details, request)


class _StreamingStageCall(_StageCall, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation, client_call_details, request):
        return await self._traced(continuation, client_call_details, request)
