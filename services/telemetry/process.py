"""Telemetry of one mesh process, started once in its main()."""

import logging
from collections.abc import Mapping
from typing import Protocol

from opentelemetry.sdk.trace import TracerProvider

from services.telemetry.logging import configure_logging
from services.telemetry.metrics import serve_metrics
from services.telemetry.tracing import configure_tracing

logger = logging.getLogger(__name__)


class TelemetrySettings(Protocol):
    """The settings start_telemetry reads (a stage's ServerSettings, the gateway's GatewaySettings)."""

    @property
    def host(self) -> str: ...
    @property
    def metrics_port(self) -> int: ...
    @property
    def log_level(self) -> str: ...


def start_telemetry(stage: str, settings: TelemetrySettings, environ: Mapping[str, str]) -> TracerProvider:
    """JSON logs, the tracer provider (OTEL_* from `environ`) and, with a metrics port, the
    Prometheus endpoint. Shut the returned provider down on exit: it flushes pending spans."""
    configure_logging(f"unclip-{stage}", settings.log_level)
    provider = configure_tracing(stage, environ)
    if settings.metrics_port:
        port = serve_metrics(settings.host, settings.metrics_port)
        logger.info("%s metrics on http://%s:%d/metrics", stage, settings.host, port)
    return provider
