"""The gateway's aiohttp application: the API routes, health, and the middlewares every API
request passes (outermost first): traced and counted, errors in the API's shape, the caller's
token, admission."""

import logging

import grpc
from aiohttp import web
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.gateway.admission import Admission
from services.gateway.errors import ApiError
from services.gateway.handlers import FILES_PATH, ImagesApi
from services.gateway.mesh import MeshImages
from services.gateway.png_store import PngStore
from services.gateway.settings import GatewaySettings
from services.security.auth import TokenSet, bearer_token
from services.telemetry.http_server import STATUS_KEY, observed_requests
from unclip_mesh.client.aio import AsyncGenerationClient

logger = logging.getLogger(__name__)

STAGE = "gateway"
HEALTH_TIMEOUT_SECONDS = 2.0


@web.middleware
async def api_errors(request: web.Request, handler):
    """Every failure as `{"error": {...}}` with its HTTP status and the gRPC status it counts as."""
    try:
        return await handler(request)
    except ApiError as error:
        failure = error
    except web.HTTPException as error:  # unknown path or method, body over the limit
        if error.status < 400:
            raise
        failure = ApiError(error.status, error.reason, status="INVALID_ARGUMENT")
    except Exception:  # a bug: logged with its traceback, the caller sees no detail
        logger.exception("unexpected error in %s %s", request.method, request.path)
        failure = ApiError(500, "internal error", error_type="server_error", status="INTERNAL")
    response = failure.response()
    response[STATUS_KEY] = failure.status
    return response


def bearer_auth(tokens: TokenSet | None):
    """With tokens configured, an API request needs `Authorization: Bearer TOKEN` with one of them
    (the OpenAI client sends its api_key so). Health and image files stay open."""

    @web.middleware
    async def auth(request: web.Request, handler):
        if (
            tokens is not None
            and request.match_info.route.name is not None
            and not tokens.allows(bearer_token(request.headers.get("Authorization")))
        ):
            raise ApiError(
                401,
                "a valid API key is required (header `Authorization: Bearer KEY`)",
                code="invalid_api_key",
                status="UNAUTHENTICATED",
            )
        return await handler(request)

    return auth


class Health:
    """/healthz: the process answers. /readyz: it admits requests, the orchestrator is SERVING."""

    def __init__(self, admission: Admission, client: AsyncGenerationClient):
        self._admission = admission
        self._health = health_pb2_grpc.HealthStub(client.channel)

    async def live(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(self, request: web.Request) -> web.Response:
        if not self._admission.accepting:
            return web.json_response({"status": "draining"}, status=503)
        try:
            reply = await self._health.Check(health_pb2.HealthCheckRequest(), timeout=HEALTH_TIMEOUT_SECONDS)
        except grpc.aio.AioRpcError as error:
            return web.json_response({"status": f"orchestrator {error.code().name}"}, status=503)
        if reply.status != health_pb2.HealthCheckResponse.SERVING:
            return web.json_response({"status": "orchestrator not serving"}, status=503)
        return web.json_response({"status": "ok"})


def build_app(
    settings: GatewaySettings, client: AsyncGenerationClient, admission: Admission, tokens: TokenSet | None
) -> web.Application:
    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[observed_requests(STAGE), api_errors, bearer_auth(tokens), admission.middleware],
    )
    store = PngStore(settings.url_ttl_seconds, settings.url_store_mb * 1024 * 1024)
    api = ImagesApi(MeshImages(client, settings.steps), store, settings)
    health = Health(admission, client)
    app.router.add_post("/v1/images/generations", api.generations, name="images.generate")
    app.router.add_post("/v1/images/variations", api.variations, name="images.create_variation")
    app.router.add_post("/v1/images/edits", api.edits, name="images.edit")
    app.router.add_get(FILES_PATH + "{name}.png", api.image_file)
    app.router.add_get("/healthz", health.live)
    app.router.add_get("/readyz", health.ready)
    return app
