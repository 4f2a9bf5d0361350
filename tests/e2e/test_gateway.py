"""The OpenAI Images API gateway on a local mesh of the demo bundle, driven by the official openai
client: every size, both response formats, variations and edits with a mask, the API's errors, and
a caller that gives up freeing the mesh. Two denoising steps per stage keep it short on CPU."""

import base64
import io
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import openai
import pytest
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families

from tests.gateway.tokenless_call import refused_without_token
from unclip_mesh.cli.local_mesh import LocalMesh

# The client marks create_variation deprecated (the hosted DALL-E 2 is retired); the gateway serves it.
pytestmark = [pytest.mark.e2e, pytest.mark.filterwarnings("ignore:deprecated:DeprecationWarning")]

BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo"
if not (BUNDLE / "unclip_bundle.json").is_file():
    pytest.skip("no demo bundle", allow_module_level=True)

TOKEN = "sk-e2e-gateway"
FAST = [
    arg
    for stage in ("prior", "decoder", "upsampler_256", "upsampler_1024")
    for arg in ("--steps", f"{stage}=2")
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    """The mesh with callers' tokens on the orchestrator, and the gateway with the same file."""
    tokens = tmp_path_factory.mktemp("tokens") / "tokens"
    tokens.write_text(TOKEN + "\n")
    metrics_port = free_port()
    with LocalMesh(
        BUNDLE,
        stage_args=("--torch-threads", "1"),
        orchestrator_args=("--auth-tokens-file", str(tokens), "--metrics-port", str(metrics_port)),
    ) as mesh:
        gateway = mesh.spawn(
            "gateway", "--orchestrator", mesh.target, "--auth-tokens-file", str(tokens), *FAST
        )
        mesh.processes.append(gateway)  # stopped with the mesh
        mesh.await_ready(gateway, time.monotonic() + 120)
        yield mesh, f"http://{gateway.address}/v1", metrics_port


@pytest.fixture(scope="module")
def api(mesh):
    return openai.OpenAI(base_url=mesh[1], api_key=TOKEN, max_retries=0, timeout=300)


def decoded(response) -> list[Image.Image]:
    return [Image.open(io.BytesIO(base64.b64decode(item.b64_json))) for item in response.data]


@pytest.mark.parametrize("size", ["256x256", "512x512", "1024x1024"])
def test_generate_every_size(api, size):
    images = decoded(
        api.images.generate(
            model="dall-e-2",
            prompt="a red circle on a white background",
            n=2,
            size=size,
            response_format="b64_json",
        )
    )
    side = int(size.split("x")[0])
    assert [(image.format, image.size) for image in images] == [("PNG", (side, side))] * 2


def test_generate_url(api):
    response = api.images.generate(prompt="a blue square", n=2, size="256x256", response_format="url")
    for item in response.data:
        with urllib.request.urlopen(item.url, timeout=30) as reply:
            assert Image.open(io.BytesIO(reply.read())).size == (256, 256)


def scene(transparent_quarter: bool = False) -> bytes:
    """A red square on white, 64 px; with transparent_quarter, its top-left quarter transparent."""
    pixels = np.full((64, 64, 4), 255, np.uint8)
    pixels[16:48, 16:48, 1:3] = 0
    if transparent_quarter:
        pixels[:32, :32, 3] = 0
    out = io.BytesIO()
    Image.fromarray(pixels, "RGBA").save(out, "PNG")
    return out.getvalue()


def test_create_variation(api):
    images = decoded(
        api.images.create_variation(
            image=("in.png", scene()), n=2, size="256x256", response_format="b64_json"
        )
    )
    assert [image.size for image in images] == [(256, 256)] * 2


def test_edit_with_a_mask_keeps_the_rest(api):
    image = api.images.edit(
        image=("in.png", scene()),
        mask=("mask.png", scene(transparent_quarter=True)),
        prompt="a green circle",
        size="256x256",
        response_format="b64_json",
    )
    [edited] = decoded(image)
    assert edited.size == (256, 256)
    kept = np.asarray(edited.convert("RGB"), np.float32)[160:, 160:]  # far from the masked quarter
    original = np.asarray(
        Image.open(io.BytesIO(scene())).convert("RGB").resize((256, 256), Image.BICUBIC), np.float32
    )[160:, 160:]
    assert np.abs(kept - original).mean() < 8


@pytest.mark.parametrize(
    "call, param",
    [
        (lambda api: api.images.generate(prompt="a red circle", size="512x256"), "size"),
        (lambda api: api.images.generate(prompt="a red circle", n=11), "n"),
        (
            lambda api: api.images.edit(
                image=("in.png", scene()), mask=("mask.png", _opaque()), prompt="a green circle"
            ),
            "mask",
        ),
    ],
)
def test_bad_input_is_400_naming_the_param(api, call, param):
    with pytest.raises(openai.BadRequestError) as error:
        call(api)
    assert error.value.status_code == 400 and error.value.body["param"] == param


def _opaque() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "PNG")
    return out.getvalue()


def test_no_token_is_401(mesh):
    refused = refused_without_token(mesh[1], timeout=30)
    assert refused.code == 401
    assert json.load(refused)["error"]["code"] == "invalid_api_key"


def orchestrator_in_flight(port: int) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        text = reply.read().decode()
    return next(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "unclip_inflight_requests"
    )


def test_a_caller_that_gives_up_frees_the_mesh(mesh):
    """The caller's client times out after 10 s but tells the gateway it waits 300 s: only the
    closed connection can stop the mesh's work."""
    _, base_url, metrics_port = mesh
    impatient = openai.OpenAI(base_url=base_url, api_key=TOKEN, max_retries=0, timeout=10)
    outcome = []
    caller = threading.Thread(
        target=lambda: outcome.append(
            _raised(
                lambda: impatient.images.generate(
                    prompt="a red circle",
                    n=4,
                    size="1024x1024",
                    extra_headers={"x-stainless-read-timeout": "300"},
                )
            )
        )
    )
    caller.start()
    assert _within(10, lambda: orchestrator_in_flight(metrics_port) == 1)
    caller.join(30)
    assert isinstance(outcome[0], openai.APITimeoutError)
    assert _within(30, lambda: orchestrator_in_flight(metrics_port) == 0)


def _raised(call) -> BaseException | None:
    try:
        call()
    except Exception as error:  # inspected by the test
        return error
    return None


def _within(seconds: float, condition) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True
