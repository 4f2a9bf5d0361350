"""`unclip-mesh serve gateway --orchestrator HOST:PORT`: the OpenAI Images API over HTTP."""

import asyncio
import os
import sys

from services.gateway.server import serve
from services.gateway.settings import gateway_settings
from services.telemetry.process import start_telemetry


def main(argv: list[str] | None = None) -> int:
    settings = gateway_settings(argv, os.environ)
    tracer_provider = start_telemetry("gateway", settings, os.environ)
    try:
        return asyncio.run(serve(settings))
    finally:
        tracer_provider.shutdown()  # exports the spans still pending


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
