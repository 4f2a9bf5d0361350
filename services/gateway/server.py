"""The gateway's lifecycle: bind, announce, serve until SIGTERM or SIGINT, drain, stop.

Announces `unclip-mesh gateway listening on HOST:PORT` and `unclip-mesh gateway ready` on stdout,
as the stage servers do. Handlers are cancelled when their caller's connection closes
(handler_cancellation), which cancels their mesh calls. On a signal /readyz turns 503, new API
requests are refused with 503, and the ones in flight get --grace-seconds to finish.
"""

import asyncio
import logging
import signal

from aiohttp import web

from services.gateway.admission import Admission
from services.gateway.app import STAGE, build_app
from services.gateway.settings import GatewaySettings
from services.security.auth import TokenSet, read_tokens
from services.security.tls import channel_credentials, load_tls
from services.telemetry.metrics import export_stage_gauges
from unclip_mesh.client.aio import AsyncGenerationClient

logger = logging.getLogger(__name__)

STOP_SECONDS = 1.0  # after the drain: what is still running is cancelled


async def serve(settings: GatewaySettings) -> int:
    tls = load_tls(settings)
    tokens = TokenSet(read_tokens(settings.auth_tokens_file)) if settings.auth_tokens_file else None
    client = AsyncGenerationClient(
        settings.orchestrator,
        credentials=channel_credentials(tls) if tls else None,
        max_message_mb=settings.max_message_mb,
    )
    admission = Admission(settings.max_in_flight)
    export_stage_gauges(STAGE, lambda: admission.in_flight)
    runner = web.AppRunner(
        build_app(settings, client, admission, tokens),
        access_log=None,
        handler_cancellation=True,
        shutdown_timeout=STOP_SECONDS,
    )
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = runner.addresses[0][1]
        print(f"unclip-mesh {STAGE} listening on {settings.host}:{port}", flush=True)
        print(f"unclip-mesh {STAGE} ready", flush=True)
        await stop.wait()
        logger.info(
            "gateway draining: %d request(s) in flight, grace %.1f s",
            admission.in_flight,
            settings.grace_seconds,
        )
        if not await admission.drain(settings.grace_seconds):
            logger.warning(
                "gateway: grace ran out with %d request(s) in flight; cancelling them", admission.in_flight
            )
    finally:
        await runner.cleanup()
        await client.close()
    return 0
