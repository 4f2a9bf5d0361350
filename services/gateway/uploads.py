"""Request bodies: the JSON of generations, the multipart forms of variations and edits.

Each uploaded file is read up to the image limit and no further, each text field up to 64 KiB, and
the whole body up to the gateway's body limit (413 past it; for JSON, aiohttp's client_max_size).
"""

import json

from aiohttp import BodyPartReader, web

from services.gateway.errors import ApiError, bad_param

MAX_FIELD_BYTES = 64 * 1024  # a text field (the prompt is at most 4000 characters)
FILE_FIELDS = ("image", "mask")


async def json_fields(request: web.Request) -> dict:
    try:
        fields = await request.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ApiError(400, "the body must be a JSON object") from None
    if not isinstance(fields, dict):
        raise ApiError(400, "the body must be a JSON object")
    return fields


async def form_fields(
    request: web.Request, max_file_bytes: int, max_body_bytes: int
) -> dict[str, str | bytes]:
    """The form's text fields as str, its files (image, mask) as bytes."""
    if not request.content_type.startswith("multipart/"):
        raise ApiError(400, "the body must be multipart/form-data")
    fields: dict[str, str | bytes] = {}
    body_bytes = 0
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        name = part.name.removesuffix("[]")  # a list of images: the first is used
        limit = max_file_bytes if name in FILE_FIELDS else MAX_FIELD_BYTES
        data = await _bounded(part, limit, name)
        body_bytes += len(data)
        if body_bytes > max_body_bytes:
            raise ApiError(413, f"the body must be at most {max_body_bytes} bytes")
        if name not in fields:
            fields[name] = data if name in FILE_FIELDS else data.decode("utf-8", "replace")
    return fields


async def _bounded(part: BodyPartReader, limit: int, name: str) -> bytes:
    data = bytearray()
    while chunk := await part.read_chunk():
        data += chunk
        if len(data) > limit:
            raise bad_param(name, f"must be at most {limit} bytes")
    return bytes(data)


def required_file(fields: dict, name: str) -> bytes:
    value = fields.get(name)
    if not isinstance(value, bytes) or not value:
        raise bad_param(name, "is required: a PNG file")
    return value
