"""The gateway driven by the official openai client, in front of a fake orchestrator."""

import base64
import io
import json
import socket
import urllib.error
import urllib.request

import numpy as np
import openai
import pytest
from PIL import Image

from tests.gateway.conftest import HANG, TOKEN, png
from tests.gateway.tokenless_call import refused_without_token
from unclip.v1 import generation_pb2

# The client marks create_variation deprecated (the hosted DALL-E 2 is retired); the gateway serves it.
pytestmark = pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")


TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


def client(base_url: str, api_key: str = TOKEN) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key=api_key, max_retries=0, timeout=30)


def sides(response) -> list[tuple[int, int]]:
    return [Image.open(io.BytesIO(base64.b64decode(d.b64_json))).size for d in response.data]


@pytest.mark.parametrize(
    "size, mesh_size",
    [
        ("256x256", generation_pb2.IMAGE_SIZE_256),
        ("512x512", generation_pb2.IMAGE_SIZE_1024),
        ("1024x1024", generation_pb2.IMAGE_SIZE_1024),
    ],
)
def test_generate_returns_n_pngs_of_the_size_from_the_mesh_size(gateway, size, mesh_size):
    base_url, fake = gateway
    response = client(base_url).images.generate(
        model="dall-e-2",
        prompt="a red circle",
        n=2,
        size=size,
        response_format="b64_json",
        user="u1",
        extra_headers={"traceparent": TRACEPARENT},
    )
    side = int(size.split("x")[0])
    assert sides(response) == [(side, side)] * 2
    request = fake.requests[-1]
    assert (request.prompt, request.num_images, request.size) == ("a red circle", 2, mesh_size)
    assert request.prior.num_inference_steps == 3 and request.decoder.num_inference_steps == 2
    assert fake.metadata[-1]["authorization"] == f"Bearer {TOKEN}"
    assert fake.metadata[-1]["traceparent"].split("-")[1] == TRACE_ID  # the caller's trace goes on


def test_the_callers_timeout_is_the_mesh_deadline(gateway):
    base_url, fake = gateway
    openai.OpenAI(base_url=base_url, api_key=TOKEN, max_retries=0, timeout=300).images.generate(
        prompt="a red circle", size="256x256", response_format="b64_json"
    )
    assert 250 < fake.deadlines[-1] <= 302  # not the gateway's 600 s (grpc-timeout rounds up)


def test_url_replies_are_served_by_the_gateway(gateway):
    base_url, _ = gateway
    response = client(base_url).images.generate(prompt="a red circle", n=2, size="256x256")
    for item in response.data:
        assert item.url.startswith("http://127.0.0.1:") and item.b64_json is None
        with urllib.request.urlopen(item.url, timeout=10) as reply:
            assert reply.headers["Content-Type"] == "image/png"
            assert Image.open(io.BytesIO(reply.read())).size == (256, 256)
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(base_url + "/images/files/unknown.png", timeout=10)
    assert missing.value.code == 404


def test_n_past_the_mesh_limit_is_drawn_by_two_requests(gateway):
    base_url, fake = gateway
    before = len(fake.requests)
    response = client(base_url).images.generate(
        prompt="a red circle", n=10, size="256x256", response_format="b64_json"
    )
    assert len(response.data) == 10
    assert sorted(r.num_images for r in fake.requests[before:]) == [2, 8]


@pytest.mark.parametrize(
    "options, param",
    [
        ({"size": "300x300"}, "size"),
        ({"n": 11}, "n"),
        ({"n": 0}, "n"),
        ({"model": "dall-e-3"}, "model"),
        ({"response_format": "jpeg"}, "response_format"),
        ({"prompt": " "}, "prompt"),
    ],
)
def test_bad_parameters_are_400_naming_the_param(gateway, options, param):
    base_url, fake = gateway
    before = len(fake.requests)
    with pytest.raises(openai.BadRequestError) as error:
        client(base_url).images.generate(**{"prompt": "a red circle", **options})
    assert error.value.status_code == 400
    assert error.value.body["param"] == param and error.value.body["type"] == "invalid_request_error"
    assert param in error.value.body["message"]
    assert len(fake.requests) == before  # refused before the mesh


def test_a_wrong_token_is_401(gateway):
    base_url, fake = gateway
    before = len(fake.requests)
    with pytest.raises(openai.AuthenticationError) as error:
        client(base_url, "sk-wrong").images.generate(prompt="a red circle")
    assert error.value.status_code == 401 and error.value.body["code"] == "invalid_api_key"
    assert len(fake.requests) == before


def test_no_token_is_401(gateway):
    base_url, _ = gateway
    refused = refused_without_token(base_url, timeout=10)
    assert refused.code == 401
    assert json.load(refused)["error"]["code"] == "invalid_api_key"


def test_health_needs_no_token(gateway):
    base_url, _ = gateway
    with urllib.request.urlopen(base_url.removesuffix("/v1") + "/readyz", timeout=10) as reply:
        assert json.load(reply) == {"status": "ok"}


@pytest.mark.parametrize(
    "code, error_type, status",
    [
        ("INVALID_ARGUMENT", openai.BadRequestError, 400),
        ("RESOURCE_EXHAUSTED", openai.RateLimitError, 429),
        ("UNAVAILABLE", openai.InternalServerError, 503),
    ],
)
def test_mesh_statuses_become_api_errors(gateway, code, error_type, status):
    base_url, _ = gateway
    with pytest.raises(error_type) as error:
        client(base_url).images.generate(prompt=f"fail:{code}", size="256x256")
    assert error.value.status_code == status
    if code == "INVALID_ARGUMENT":
        assert error.value.body["param"] == "n"
    if code == "RESOURCE_EXHAUSTED":
        assert error.value.response.headers["Retry-After"] == "3"  # RetryInfo 2.5 s, rounded up


def transparent_corner(side: int = 64) -> bytes:
    """A square RGBA PNG, opaque but for its top-left quarter."""
    pixels = np.full((side, side, 4), 255, np.uint8)
    pixels[: side // 2, : side // 2, 3] = 0
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, "PNG")
    return out.getvalue()


def test_edit_mask_alpha_becomes_the_mesh_mask(gateway):
    base_url, fake = gateway
    response = client(base_url).images.edit(
        image=("in.png", png(64)),
        mask=("mask.png", transparent_corner()),
        prompt="a blue square",
        n=2,
        size="256x256",
        response_format="b64_json",
    )
    assert sides(response) == [(256, 256)] * 2
    request = fake.requests[-1]
    assert isinstance(request, generation_pb2.InpaintImageRequest) and request.num_images == 2
    mask = np.asarray(Image.open(io.BytesIO(request.mask.encoded)))
    assert (mask[:32, :32] == 255).all() and (mask[32:, :] == 0).all() and (mask[:, 32:] == 0).all()


def test_edit_without_a_mask_uses_the_image_alpha(gateway):
    base_url, fake = gateway
    client(base_url).images.edit(
        image=("in.png", transparent_corner()),
        prompt="a blue square",
        size="256x256",
        response_format="b64_json",
    )
    assert fake.requests[-1].mask.encoded == b""


@pytest.mark.parametrize(
    "image, mask, param",
    [
        (png(64), png(64), "mask"),  # a mask without alpha
        (png(64), transparent_corner(32), "mask"),  # of another size
        (png(64), None, "image"),  # no mask and an opaque image
        (b"not a png", None, "image"),
    ],
)
def test_bad_edits_are_400_naming_the_param(gateway, image, mask, param):
    base_url, _ = gateway
    files = {"mask": ("mask.png", mask)} if mask is not None else {}
    with pytest.raises(openai.BadRequestError) as error:
        client(base_url).images.edit(image=("in.png", image), prompt="a blue square", **files)
    assert error.value.body["param"] == param


def test_variation_of_a_png(gateway):
    base_url, fake = gateway
    response = client(base_url).images.create_variation(
        image=("in.png", png(64)), n=2, size="512x512", response_format="b64_json"
    )
    assert sides(response) == [(512, 512)] * 2
    assert isinstance(fake.requests[-1], generation_pb2.CreateVariationsRequest)


def noise_png(side: int) -> bytes:
    """A PNG that does not compress: 3 bytes a pixel."""
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (side, side, 3), np.uint8)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize("image, reason", [(noise_png(600), "at most"), (png(64)[:40], "valid PNG")])
def test_variation_refuses_large_or_broken_images(gateway, image, reason):
    base_url, _ = gateway
    with pytest.raises(openai.BadRequestError) as error:
        client(base_url).images.create_variation(image=("in.png", image))
    assert error.value.body["param"] == "image" and reason in error.value.body["message"]


def test_a_closed_connection_cancels_the_mesh_call(gateway):
    base_url, fake = gateway
    port = int(base_url.split(":")[2].split("/")[0])
    body = json.dumps({"prompt": HANG, "size": "256x256"}).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(
            b"POST /v1/images/generations HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        assert fake.hanging.wait(20)
    assert fake.cancelled.wait(20)
