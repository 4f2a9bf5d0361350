"""What an HTTP request hands on to its mesh calls: the deadline, the token and the trace.

The official client sends its own timeout in `x-stainless-read-timeout` (seconds): the mesh gets
that, capped by the gateway's --max-request-seconds, so a caller that gives up stops the mesh too.
The caller's bearer token goes on as the orchestrator's caller token, and the current span (the
gateway's SERVER span) as a W3C traceparent.
"""

import math

from aiohttp import web
from opentelemetry import propagate

TIMEOUT_HEADER = "x-stainless-read-timeout"


def deadline_seconds(request: web.Request, longest: float) -> float:
    try:
        asked = float(request.headers.get(TIMEOUT_HEADER, "nan"))
    except ValueError:
        return longest
    return min(asked, longest) if math.isfinite(asked) and asked > 0 else longest


def mesh_metadata(request: web.Request) -> list[tuple[str, str]]:
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    metadata = list(carrier.items())
    if authorization := request.headers.get("Authorization"):
        metadata.append(("authorization", authorization))
    return metadata
