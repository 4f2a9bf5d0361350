"""The Images API parameters every endpoint shares, checked before the mesh is called.

JSON bodies carry numbers as numbers, multipart forms as text: both are accepted. Parameters the
gateway does not know are ignored, as DALL-E 2 callers send only these.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from services.gateway.errors import bad_param
from services.gateway.sizes import SIZES

MODEL = "dall-e-2"
MAX_IMAGES = 10  # the API's n range is 1..10
RESPONSE_FORMATS = ("url", "b64_json")


@dataclass(frozen=True)
class Ask:
    n: int
    size: str
    response_format: str
    user: str | None


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).isdigit():
        raise bad_param("n", f"must be an integer from 1 to {MAX_IMAGES}")
    n = int(value)
    if not 1 <= n <= MAX_IMAGES:
        raise bad_param("n", f"{n} is out of range: must be from 1 to {MAX_IMAGES}")
    return n


def _one_of(fields: Mapping[str, object], param: str, choices, default: str) -> str:
    value = fields.get(param)
    if value is None:
        return default
    if value not in choices:
        raise bad_param(param, f"{value!r} is not one of {', '.join(repr(c) for c in choices)}")
    return str(value)


def read_ask(fields: Mapping[str, object]) -> Ask:
    """model, n, size, response_format and user, with the API's defaults (1, 1024x1024, url)."""
    _one_of(fields, "model", (MODEL,), MODEL)
    n = _count(fields["n"]) if fields.get("n") is not None else 1
    size = _one_of(fields, "size", tuple(SIZES), "1024x1024")
    response_format = _one_of(fields, "response_format", RESPONSE_FORMATS, "url")
    user = fields.get("user")
    if user is not None and not isinstance(user, str):
        raise bad_param("user", "must be a string")
    return Ask(n, size, response_format, user)


def read_prompt(fields: Mapping[str, object]) -> str:
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise bad_param("prompt", "is required and must be a non-empty string")
    return prompt
