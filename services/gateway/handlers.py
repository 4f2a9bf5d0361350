"""The Images API's endpoints: generations, variations, edits, and the PNGs of `url` replies."""

import asyncio
import base64
import time

from aiohttp import web
from opentelemetry import trace

from services.gateway.call_context import deadline_seconds, mesh_metadata
from services.gateway.errors import ApiError
from services.gateway.images import edit_mask, square_png
from services.gateway.mesh import MeshImages
from services.gateway.params import Ask, read_ask, read_prompt
from services.gateway.png_store import PngStore
from services.gateway.settings import GatewaySettings
from services.gateway.uploads import form_fields, json_fields, required_file
from unclip.v1 import generation_pb2
from unclip_mesh.client.sdk import inpaint_request, variations_request

FILES_PATH = "/v1/images/files/"  # + NAME.png: the PNG of a `url` reply


class ImagesApi:
    def __init__(self, mesh: MeshImages, store: PngStore, settings: GatewaySettings):
        self._mesh = mesh
        self._store = store
        self._settings = settings

    async def generations(self, request: web.Request) -> web.Response:
        fields = await json_fields(request)
        ask, prompt = read_ask(fields), read_prompt(fields)
        return await self._draw(
            request, ask, lambda count: generation_pb2.GenerateImagesRequest(prompt=prompt, num_images=count)
        )

    async def variations(self, request: web.Request) -> web.Response:
        fields = await form_fields(request, self._settings.max_image_bytes, self._settings.max_body_bytes)
        ask, image = read_ask(fields), required_file(fields, "image")
        await asyncio.to_thread(square_png, image)
        return await self._draw(request, ask, lambda count: variations_request(image, num_images=count))

    async def edits(self, request: web.Request) -> web.Response:
        fields = await form_fields(request, self._settings.max_image_bytes, self._settings.max_body_bytes)
        ask, prompt, image = read_ask(fields), read_prompt(fields), required_file(fields, "image")
        mask = required_file(fields, "mask") if "mask" in fields else None
        mesh_mask = await asyncio.to_thread(edit_mask, image, mask)
        return await self._draw(
            request, ask, lambda count: inpaint_request(image, prompt, mask=mesh_mask, num_images=count)
        )

    async def image_file(self, request: web.Request) -> web.Response:
        png = self._store.get(request.match_info["name"])
        if png is None:
            raise ApiError(404, "no such image: URLs expire", code="not_found", status="NOT_FOUND")
        return web.Response(
            body=png, content_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
        )

    async def _draw(self, request: web.Request, ask: Ask, build) -> web.Response:
        if ask.user is not None:
            trace.get_current_span().set_attribute("enduser.id", ask.user)
        pngs = await self._mesh.draw(
            build,
            ask,
            timeout=deadline_seconds(request, self._settings.max_request_seconds),
            metadata=mesh_metadata(request),
        )
        if ask.response_format == "b64_json":
            data = [{"b64_json": base64.b64encode(png).decode("ascii")} for png in pngs]
        else:
            data = [{"url": self._url(request, self._store.put(png))} for png in pngs]
        return web.json_response({"created": int(time.time()), "data": data})

    @staticmethod
    def _url(request: web.Request, name: str) -> str:
        """Absolute, on the host and scheme the caller used (behind a proxy: its Host header)."""
        return str(request.url.origin().with_path(f"{FILES_PATH}{name}.png"))
