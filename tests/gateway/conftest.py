"""The gateway in this process (its real app, on its own event loop in a thread) in front of a fake
orchestrator: a GenerationService that draws flat PNGs at once, fails on request, or hangs until
cancelled. For the gateway's own behaviour; tests/e2e/test_gateway.py runs it on the real mesh."""

import asyncio
import contextlib
import io
import threading

import grpc
import pytest
from grpc_health.v1 import health, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from PIL import Image

from services.gateway.admission import Admission
from services.gateway.app import build_app
from services.gateway.settings import GatewaySettings
from services.runtime.errors import InvalidArgument, ResourceExhausted, StageError, abort
from services.security.auth import TokenSet
from unclip.v1 import generation_pb2, generation_pb2_grpc
from unclip_mesh.client.aio import AsyncGenerationClient

TOKEN = "sk-gateway-test"
SIDES = {generation_pb2.IMAGE_SIZE_256: 256, generation_pb2.IMAGE_SIZE_1024: 1024}
HANG = "hang until cancelled"
FAILURES = {  # the orchestrator's statuses with their details; other `fail:CODE` prompts carry none
    "fail:INVALID_ARGUMENT": InvalidArgument("num_images", "must be between 1 and 8"),
    "fail:RESOURCE_EXHAUSTED": ResourceExhausted("orchestrator is full", 2.5, stage="orchestrator"),
}


def png(side: int, colour=(200, 30, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (side, side), colour).save(out, "PNG")
    return out.getvalue()


class FakeOrchestrator(generation_pb2_grpc.GenerationServiceServicer):
    """Draws flat PNGs; a prompt `fail:CODE` fails with CODE (FAILURES), HANG waits until cancelled."""

    def __init__(self):
        self.requests: list = []
        self.metadata: list[dict] = []
        self.deadlines: list[float | None] = []
        self.cancelled = threading.Event()
        self.hanging = threading.Event()

    async def _serve(self, request, context, response_type):
        self.requests.append(request)
        self.metadata.append(dict(context.invocation_metadata()))
        self.deadlines.append(context.time_remaining())
        prompt = getattr(request, "prompt", "")
        if prompt.startswith("fail:"):
            await abort(
                context,
                FAILURES.get(prompt) or StageError(grpc.StatusCode[prompt[5:]], "decoder stage unavailable"),
            )
        if prompt == HANG:
            self.hanging.set()
            try:
                await asyncio.sleep(60)
            except asyncio.CancelledError:
                self.cancelled.set()
                raise
        side = SIDES[request.size]
        result = generation_pb2.GeneratedImages(
            png_images=[png(side)] * request.num_images, seed=1, size=side
        )
        yield response_type(event=generation_pb2.GenerationEvent(result=result))

    async def GenerateImages(self, request, context):
        async for response in self._serve(request, context, generation_pb2.GenerateImagesResponse):
            yield response

    async def CreateVariations(self, request, context):
        async for response in self._serve(request, context, generation_pb2.CreateVariationsResponse):
            yield response

    async def InpaintImage(self, request, context):
        async for response in self._serve(request, context, generation_pb2.InpaintImageResponse):
            yield response


@contextlib.contextmanager
def running_gateway(settings: GatewaySettings, tokens: list[bytes] | None = None):
    """Yields (gateway base URL, fake orchestrator)."""
    fake = FakeOrchestrator()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def start():
        from aiohttp import web

        server = grpc.aio.server()
        generation_pb2_grpc.add_GenerationServiceServicer_to_server(fake, server)
        health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        client = AsyncGenerationClient(f"127.0.0.1:{port}")
        app = build_app(
            settings, client, Admission(settings.max_in_flight), TokenSet(tokens) if tokens else None
        )
        runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return server, client, runner

    server, client, runner = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=60)

    async def stop():
        await runner.cleanup()
        await client.close()
        await server.stop(0)

    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1", fake
    finally:
        asyncio.run_coroutine_threadsafe(stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def gateway():
    if not isinstance(trace.get_tracer_provider(), TracerProvider):  # settable once per process
        trace.set_tracer_provider(TracerProvider())  # spans recorded, as in the gateway's main()
    settings = GatewaySettings(port=0, max_image_mb=1, steps={"prior": 3, "decoder": 2})
    with running_gateway(settings, [TOKEN.encode()]) as running:
        yield running
