"""StageServer: the grpc.aio server every stage runs, with health, reflection, limits and drain.

Lifecycle: `await start()` binds and announces `unclip-mesh STAGE listening on HOST:PORT`, answers
health checks with NOT_SERVING while `load()` runs in a worker thread, then turns SERVING and
announces `unclip-mesh STAGE ready`. `await drain_and_stop()` (run_until_signal calls it on SIGTERM
or SIGINT) turns NOT_SERVING, refuses new calls with UNAVAILABLE, lets in-flight calls finish
within the grace period, then stops the server and collects what calls may have left behind.
"""

import asyncio
import gc
import inspect
import logging
import signal
import time
from collections.abc import Callable, Sequence
from contextlib import aclosing
from typing import NoReturn

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from services.runtime.errors import ResourceExhausted, abort
from services.runtime.request_parsing import Undecodable, tolerant
from services.runtime.settings import ServerSettings
from services.runtime.stream_writer import StreamWriter
from services.runtime.torch_threads import in_passing_thread
from services.security.tls import load_tls, server_credentials
from services.telemetry.grpc_tracing import server_tracing_interceptor
from services.telemetry.metrics import MODEL_LOAD_SECONDS, export_stage_gauges, observed_rpc

logger = logging.getLogger(__name__)

_HANDLER_FACTORIES = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


MAX_FRAME_SIZE = 16_777_215  # the HTTP/2 maximum
OVERLOAD_RETRY_AFTER_SECONDS = 1.0  # the RetryInfo of a call refused past max_queue


def server_options(settings: ServerSettings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_send_message_length", settings.max_message_bytes),
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        # Old connections are closed (after a grace for their calls) so clients rebalance to new
        # replicas. A call longer than the grace on an aged connection is cut: keep grace above
        # the slowest request.
        ("grpc.max_connection_age_ms", round(settings.max_connection_age_seconds * 1000)),
        ("grpc.max_connection_age_grace_ms", round(settings.grace_seconds * 1000)),
        # Large frames: a 1024 px image is one message of several MB; measured ~30% faster hops.
        ("grpc.http2.max_frame_size", MAX_FRAME_SIZE),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        # The stage clients ping every 30 s during long streams; allow that without strikes.
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 10_000),
        # A port already in use is an error, not a port silently shared with another process.
        ("grpc.so_reuseport", 0),
    ]


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class StageServer:
    """One stage's gRPC server.

    register(server) adds the stage's servicers and returns their full service names (for health
    and reflection); load() loads the model and runs in a worker thread. Only the registered
    services are admission-controlled: `accepting` and `in_flight` count their calls, and a call
    past `max_queue` in flight is refused at once with RESOURCE_EXHAUSTED.
    `interceptors` run before admission (the orchestrator's authentication): a call they refuse
    takes no admission slot and is refused as they say, even when the server is full. With TLS the
    port requires client certificates signed by the configured CA (mutual TLS).
    """

    def __init__(
        self,
        stage: str,
        settings: ServerSettings,
        register: Callable[[grpc.aio.Server], list[str]],
        load: Callable[[], None] | None = None,
        interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
    ):
        self.stage = stage
        self.settings = settings
        self.port: int | None = None  # the bound port, once started
        self.services: list[str] = []  # the registered services' full names, once started
        self.accepting = True
        self.in_flight = 0
        self._register = register
        self._load = load
        self._interceptors = list(interceptors)
        self._idle = asyncio.Event()
        self._idle.set()
        self._health = health.aio.HealthServicer()
        self._server: grpc.aio.Server | None = None
        export_stage_gauges(stage, lambda: self.in_flight)

    @property
    def started(self) -> bool:
        return self._server is not None

    async def start(self) -> None:
        """Binds, serves NOT_SERVING while loading, then SERVING. Exits (SystemExit 1) on failure."""
        self._server = grpc.aio.server(
            # A call refused by authentication or admission is answered before its trace span
            # opens: a burst of refusals costs the event loop no span (and no recorded exception)
            # each, which was a millisecond a refusal; the RPC metrics still count it.
            interceptors=[
                StreamWriter(),
                *self._interceptors,
                _Admission(self),
                server_tracing_interceptor(),
            ],
            options=server_options(self.settings),
        )
        self.services = list(self._register(self._server))
        health_pb2_grpc.add_HealthServicer_to_server(self._health, self._server)
        reflection.enable_server_reflection(
            [*self.services, health.SERVICE_NAME, reflection.SERVICE_NAME], self._server
        )
        await self._set_health(health_pb2.HealthCheckResponse.NOT_SERVING)
        address = _address(self.settings.host, self.settings.port)
        try:
            tls = load_tls(self.settings)
        except ValueError as error:
            await self._fail("cannot read its TLS files", error)
        try:
            self.port = (
                self._server.add_secure_port(address, server_credentials(tls))
                if tls
                else self._server.add_insecure_port(address)
            )
        except RuntimeError as error:
            await self._fail(f"cannot bind {address}", error)
        await self._server.start()
        print(f"unclip-mesh {self.stage} listening on {_address(self.settings.host, self.port)}", flush=True)
        if self._load is not None:
            started = time.perf_counter()
            try:
                await in_passing_thread(self._load)  # its OpenMP pool ends with it
            except Exception as error:  # any load failure ends the process
                await self._fail("cannot load the model", error)
            MODEL_LOAD_SECONDS.labels(self.stage).set(time.perf_counter() - started)
        # What start-up made (modules, the model) lives as long as the process: out of the
        # collector's sight, a full collection no longer walks it (~0.2 s with torch imported,
        # which showed as the tail of every call's latency).
        gc.freeze()
        await self._set_health(health_pb2.HealthCheckResponse.SERVING)
        print(f"unclip-mesh {self.stage} ready", flush=True)

    async def drain_and_stop(self) -> None:
        """NOT_SERVING, refuse new calls, wait for in-flight ones up to the grace, stop."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.grace_seconds
        self.accepting = False
        await self._health.enter_graceful_shutdown()
        logger.info(
            "%s stage draining: %d call(s) in flight, grace %.1f s",
            self.stage,
            self.in_flight,
            self.settings.grace_seconds,
        )
        try:
            await asyncio.wait_for(self._idle.wait(), self.settings.grace_seconds)
        except TimeoutError:
            logger.warning(
                "%s stage: grace ran out with %d call(s) in flight; cancelling them",
                self.stage,
                self.in_flight,
            )
        if self._server is not None:
            await self._server.stop(max(0.0, deadline - loop.time()))
        # Anything a call left pending (a task, a waiter) is reported when it is collected; full
        # collections are rare after gc.freeze() and need not come before the process exits, so
        # one is run while the log still takes the report.
        gc.collect()
        logger.info("%s stage stopped", self.stage)

    async def _set_health(self, status: int) -> None:
        for service in ("", *self.services):
            await self._health.set(service, status)

    async def _fail(self, what: str, error: Exception) -> NoReturn:
        """One clear log line (the trace only at debug level), then exit 1."""
        logger.error("%s stage %s: %s", self.stage, what, str(error) or type(error).__name__)
        logger.debug("%s stage %s", self.stage, what, exc_info=error)
        if self._server is not None:
            await self._server.stop(None)
        raise SystemExit(1)

    def admitted(self, behavior: Callable, method: str) -> Callable:
        """Wraps an async method behavior: refused while draining, counted while running, and
        observed in the RPC metrics (refusals included) under `method`."""
        if inspect.isasyncgenfunction(behavior):

            async def streaming(request, context):
                async with observed_rpc(self.stage, method, context):
                    await self._enter(request, context)
                    try:
                        # closed here, in the call's task, when the call ends early: the traced
                        # behaviour inside detaches its context in the task that attached it
                        async with aclosing(behavior(request, context)) as responses:
                            async for response in responses:
                                yield response
                    finally:
                        self._leave()

            return streaming

        async def unary(request, context):
            async with observed_rpc(self.stage, method, context):
                await self._enter(request, context)
                try:
                    return await behavior(request, context)
                finally:
                    self._leave()

        return unary

    async def _enter(self, request, context: grpc.aio.ServicerContext) -> None:
        if not self.accepting:
            await context.abort(grpc.StatusCode.UNAVAILABLE, f"{self.stage} stage is draining")
        if isinstance(request, Undecodable):
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
        if self.in_flight >= self.settings.max_queue:
            # Refused before any work (the orchestrator before calling a stage), so it is fast.
            await abort(
                context,
                ResourceExhausted(
                    f"{self.stage}: {self.in_flight} calls in flight (max_queue "
                    f"{self.settings.max_queue}); retry later",
                    OVERLOAD_RETRY_AFTER_SECONDS,
                    stage=self.stage,
                ),
            )
        self.in_flight += 1
        self._idle.clear()

    def _leave(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0:
            self._idle.set()


class _Admission(grpc.aio.ServerInterceptor):
    """Puts the registered services' calls through StageServer.admitted."""

    def __init__(self, stage_server: StageServer):
        self._stage_server = stage_server

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        _, service, method = handler_call_details.method.split("/")
        if handler is None or service not in self._stage_server.services:
            return handler
        for kind, factory in _HANDLER_FACTORIES.items():
            behavior = getattr(handler, kind)
            if behavior is not None:
                return factory(
                    self._stage_server.admitted(behavior, method),
                    request_deserializer=tolerant(handler.request_deserializer),
                    response_serializer=handler.response_serializer,
                )
        return handler


async def run_until_signal(server: StageServer) -> None:
    """Starts `server` (unless started), serves until SIGTERM or SIGINT, then drains.

    The handlers are in place before the server announces itself, so a launcher may signal as soon
    as it reads a line. A signal during model loading drains once loading ends; a second signal
    gets the default action.
    """
    loop = asyncio.get_running_loop()
    received: asyncio.Future[signal.Signals] = loop.create_future()
    signals = (signal.SIGTERM, signal.SIGINT)

    def on_signal(signum: signal.Signals) -> None:
        if not received.done():
            received.set_result(signum)

    for signum in signals:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        if not server.started:
            await server.start()
        signum = await received
    finally:
        for s in signals:
            loop.remove_signal_handler(s)
    logger.info("%s stage got %s", server.stage, signum.name)
    await server.drain_and_stop()
