"""OpenTelemetry tracing: the provider of a process, and the spans the runtime makes itself.

Every process records spans (so logs carry trace ids and the context crosses every hop); they are
exported only when OTEL_TRACES_EXPORTER names an exporter (unset or `none`: nothing leaves the
process). Everything else comes from the SDK's own OTEL_* handling: OTEL_EXPORTER_OTLP_* for the
exporter, OTEL_BSP_* for batching, OTEL_TRACES_SAMPLER*, OTEL_RESOURCE_ATTRIBUTES, OTEL_PROPAGATORS.
"""

import os
import socket
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from importlib.metadata import entry_points

from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_INSTANCE_ID, SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.util.types import AttributeValue

TRACER_NAME = "unclip-mesh"
_EXPORTER_GROUP = "opentelemetry_traces_exporter"
_OTLP_BY_PROTOCOL = {"grpc": "otlp_proto_grpc", "http/protobuf": "otlp_proto_http"}


def replica_id() -> str:
    """Which replica a span or metric comes from: the host (the pod's name in Kubernetes) and pid."""
    return f"{socket.gethostname()}:{os.getpid()}"


def exporter_names(environ: Mapping[str, str]) -> list[str]:
    """Entry-point names of the exporters OTEL_TRACES_EXPORTER asks for (`otlp` by protocol)."""
    value = environ.get("OTEL_TRACES_EXPORTER", "").strip()
    if not value or value.lower() == "none":
        return []
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "grpc"
    ).strip()
    names = []
    for name in (n.strip() for n in value.split(",")):
        if name == "otlp":
            if protocol not in _OTLP_BY_PROTOCOL:
                raise ValueError(f"OTEL_EXPORTER_OTLP_PROTOCOL: unsupported protocol {protocol!r}")
            name = _OTLP_BY_PROTOCOL[protocol]
        names.append(name)
    return names


def _exporter(name: str) -> SpanExporter:
    found = entry_points(group=_EXPORTER_GROUP, name=name)
    if not found:
        raise ValueError(f"OTEL_TRACES_EXPORTER: no span exporter {name!r} is installed")
    return next(iter(found)).load()()


def configure_tracing(stage: str, environ: Mapping[str, str]) -> TracerProvider:
    """Installs the process's tracer provider: service.name `unclip-STAGE`, the replica as
    service.instance.id, a batching processor per configured exporter. Call provider.shutdown()
    on exit to flush."""
    resource = Resource.create(
        {SERVICE_NAME: f"unclip-{stage}", SERVICE_INSTANCE_ID: replica_id(), "unclip.stage": stage}
    )
    provider = TracerProvider(resource=resource)
    for name in exporter_names(environ):
        provider.add_span_processor(BatchSpanProcessor(_exporter(name)))
    trace.set_tracer_provider(provider)
    return provider


def tracer() -> trace.Tracer:
    return trace.get_tracer(TRACER_NAME)


def current_span_context() -> trace.SpanContext:
    return trace.get_current_span().get_span_context()


@contextmanager
def batch_span(
    name: str, requests: Sequence[trace.SpanContext], attributes: Mapping[str, AttributeValue]
) -> Iterator[trace.Span]:
    """A span for work shared by several requests (a batched forward), linked to each request's span.

    Its parent is the first request's span, so the trace of the request that waited longest holds
    it; the other requests reach it through their links. Safe to call from any thread.
    """
    valid = [c for c in requests if c.is_valid]
    parent = trace.set_span_in_context(trace.NonRecordingSpan(valid[0])) if valid else None
    with tracer().start_as_current_span(
        name, context=parent, attributes=attributes, links=[trace.Link(c) for c in valid]
    ) as span:
        yield span
