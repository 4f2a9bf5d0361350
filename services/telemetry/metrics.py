"""Prometheus metrics of a mesh process, all named `unclip_*` and labelled by `stage`.

One registry per process (REGISTRY), served on --metrics-port by serve_metrics(). The autoscalers
(HPA or KEDA) scale on `unclip_inflight_requests` or `unclip_queue_depth`, and the alerts read
these series too: unclip_mesh/deploy/queries.py holds that PromQL.
"""

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

REGISTRY = CollectorRegistry()

# Diffusion calls take from milliseconds (tiny models) to minutes (1024 px on CPU).
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500)
_STEP_SECONDS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

RPC_REQUESTS = Counter(
    "unclip_rpc_requests",
    "RPCs handled, by final status code",
    ["stage", "method", "code"],
    registry=REGISTRY,
)
RPC_SECONDS = Histogram(
    "unclip_rpc_duration_seconds",
    "RPC handling time, admission to last message",
    ["stage", "method"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
INFLIGHT = Gauge(
    "unclip_inflight_requests", "RPCs admitted and not yet finished", ["stage"], registry=REGISTRY
)
QUEUE_DEPTH = Gauge(
    "unclip_queue_depth", "Trajectories waiting to join a denoising batch", ["stage"], registry=REGISTRY
)
BATCH_SIZE = Histogram(
    "unclip_batch_size",
    "Trajectories denoised together in one step",
    ["stage"],
    buckets=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
    registry=REGISTRY,
)
STEP_SECONDS = Histogram(
    "unclip_denoise_step_seconds",
    "Wall time of one batched denoising step (network forward + scheduler steps)",
    ["stage"],
    buckets=_STEP_SECONDS,
    registry=REGISTRY,
)
MODEL_LOAD_SECONDS = Gauge(
    "unclip_model_load_seconds", "How long the stage's model took to load", ["stage"], registry=REGISTRY
)
STAGE_CALL_SECONDS = Histogram(
    "unclip_stage_call_duration_seconds",
    "Orchestrator: one call to a stage (one attempt), by status code",
    ["stage", "code"],
    buckets=_SECONDS,
    registry=REGISTRY,
)


def serve_metrics(host: str, port: int) -> int:
    """Serves REGISTRY at http://HOST:PORT/metrics on a daemon thread; returns the bound port."""
    server, _ = start_http_server(port, addr=host, registry=REGISTRY)
    return server.server_port


def status_name(error: BaseException | None, context: grpc.aio.ServicerContext) -> str:
    """The status a server call ends with, from what its handler raised (None: it returned)."""
    if error is None or isinstance(error, grpc.aio.AbortError):
        return (context.code() or grpc.StatusCode.OK).name
    if not isinstance(error, Exception):  # CancelledError, GeneratorExit: the caller went away
        return grpc.StatusCode.CANCELLED.name
    return grpc.StatusCode.UNKNOWN.name


# Final codes whose series exist from a method's first call on: a counter series born at its first
# increment hides that increment from rate(), so the first refusals would go unseen by the alerts.
PRESET_CODES = ("OK", "RESOURCE_EXHAUSTED", "UNAVAILABLE")


def open_call_series(stage: str, method: str) -> None:
    """The PRESET_CODES series of a method, at 0 until counted (a gRPC or an HTTP server's call)."""
    for code in PRESET_CODES:
        RPC_REQUESTS.labels(stage, method, code)


def record_call(stage: str, method: str, status: str, seconds: float) -> None:
    """One finished server call: its time and its final status."""
    RPC_SECONDS.labels(stage, method).observe(seconds)
    RPC_REQUESTS.labels(stage, method, status).inc()


@asynccontextmanager
async def observed_rpc(stage: str, method: str, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
    """Counts one server call by its final status and times it."""
    open_call_series(stage, method)
    started = time.perf_counter()
    error: BaseException | None = None
    try:
        yield
    except BaseException as raised:
        error = raised
        raise
    finally:
        record_call(stage, method, status_name(error, context), time.perf_counter() - started)


def export_stage_gauges(stage: str, in_flight: Callable[[], float]) -> None:
    """The two load gauges of `stage`, present (at 0) from start-up on: the Down alerts rely on
    it."""
    INFLIGHT.labels(stage).set_function(in_flight)
    QUEUE_DEPTH.labels(stage)
