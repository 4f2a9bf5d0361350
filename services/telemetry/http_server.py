"""Traces, metrics and a log line for the API requests of an HTTP server (the gateway).

An aiohttp middleware: a SERVER span per request, child of the caller's span when the request
carries a W3C traceparent (the mesh calls made inside it carry the span on), counted and timed in
the same series as every gRPC server (unclip_rpc_requests_total, unclip_rpc_duration_seconds), by
the gRPC status name the reply stands for (STATUS_KEY on the response; OK when unset), so the
refusal queries and alerts read the gateway as any stage. Only named routes are API requests:
health, metrics and files pass untraced.
"""

import logging
import time

from aiohttp import web
from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode

from services.telemetry.metrics import open_call_series, record_call
from services.telemetry.tracing import tracer

logger = logging.getLogger("unclip.requests")

STATUS_KEY = web.ResponseKey("unclip_status", str)


def observed_requests(stage: str):
    @web.middleware
    async def observe(request: web.Request, handler):
        route = request.match_info.route
        operation = route.name
        if operation is None or route.resource is None:
            return await handler(request)
        open_call_series(stage, operation)
        started = time.perf_counter()
        status, http_status = "CANCELLED", 499  # unless the handler ends: the caller went away
        with tracer().start_as_current_span(
            f"{request.method} {route.resource.canonical}",
            kind=SpanKind.SERVER,
            context=propagate.extract(request.headers),
            attributes={
                "http.request.method": request.method,
                "url.path": request.path,
                "unclip.operation": operation,
            },
        ) as span:
            try:
                response = await handler(request)
                status, http_status = response.get(STATUS_KEY, "OK"), response.status
                return response
            except Exception:
                status, http_status = "INTERNAL", 500
                raise
            finally:
                seconds = time.perf_counter() - started
                record_call(stage, operation, status, seconds)
                span.set_attribute("http.response.status_code", http_status)
                if status != "OK":
                    span.set_status(Status(StatusCode.ERROR, status))
                logger.log(
                    logging.INFO if status == "OK" else logging.WARNING,
                    "%s %d %s in %.3f s",
                    operation,
                    http_status,
                    status,
                    seconds,
                    extra={
                        "operation": operation,
                        "http_status": http_status,
                        "status_code": status,
                        "seconds": round(seconds, 4),
                    },
                )

    return observe
