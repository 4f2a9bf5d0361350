"""Variations, interpolations, edits and inpainting through the mesh (mechanics, on random weights;
behaviour on the trained demo bundle is tested in tests/e2e/test_demo_flows.py)."""

import io
import subprocess
import sys

import grpc
import numpy as np
import pytest
from PIL import Image

from tests.e2e.conftest import FAST
from unclip_mesh.client.sdk import Sampling, failure_details

NO_PRIOR = {stage: knobs for stage, knobs in FAST.items() if stage != "prior"}

pytestmark = pytest.mark.e2e


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def decode(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def picture() -> np.ndarray:
    """A 96x80 RGB picture (not square: the flows centre-crop it)."""
    pixels = np.zeros((80, 96, 3), np.uint8)
    pixels[..., 2] = 200
    pixels[20:60, 30:70, 0] = 230
    return pixels


def test_variations_are_reproducible_and_varied(client, picture):
    first = client.create_variations(png(picture), num_images=2, size=64, seed=3, stages=NO_PRIOR)
    again = client.create_variations(png(picture), num_images=2, size=64, seed=3, stages=NO_PRIOR)
    assert first.png_images == again.png_images and len(set(first.png_images)) == 2
    assert decode(first.png_images[0]).shape == (64, 64, 3)


@pytest.mark.parametrize(
    "start, end", [("a red circle", "a blue square"), ("image", "a blue square"), ("image", "image")]
)
def test_interpolation_strip(client, picture, start, end):
    source = lambda s: png(picture) if s == "image" else s
    strip = client.interpolate(source(start), source(end), num_images=3, size=64, seed=1, stages=FAST)
    assert len(strip.png_images) == 3


def test_variations_with_eta_start_from_the_inverted_image(client, picture):
    near = client.create_variations(png(picture), num_images=2, eta=0.5, size=64, seed=3, stages=NO_PRIOR)
    again = client.create_variations(png(picture), num_images=2, eta=0.5, size=64, seed=3, stages=NO_PRIOR)
    assert near.png_images == again.png_images and len(set(near.png_images)) == 2


def test_edit_returns_one_image(client, picture):
    result = client.edit(
        png(picture),
        "a blue square",
        original_caption="a red square",
        strength=0.7,
        size=256,
        seed=2,
        stages=NO_PRIOR,
    )
    assert len(result.png_images) == 1 and decode(result.png_images[0]).shape == (256, 256, 3)


@pytest.mark.parametrize("size", [64, 256])
def test_inpainting_keeps_unmasked_pixels_exactly(client, size):
    picture = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    mask = np.zeros((size, size), np.uint8)
    mask[size // 4 : size // 2, size // 4 : size // 2] = 255
    result = client.inpaint(
        png(picture), "a red circle", mask=png(mask), num_images=2, size=size, seed=4, stages=FAST
    )
    for image in map(decode, result.png_images):
        keep = mask == 0
        assert np.array_equal(image[keep], picture[keep])
        assert not np.array_equal(image[~keep], picture[~keep])


def test_inpainting_mask_from_alpha(client):
    rgba = np.full((64, 64, 4), 255, np.uint8)
    rgba[10:30, 10:30, 3] = 0
    result = client.inpaint(png(rgba), "a red circle", size=64, seed=1, stages=FAST)
    assert np.array_equal(decode(result.png_images[0])[40:, 40:], rgba[40:, 40:, :3])


@pytest.mark.parametrize(
    "call, field",
    [
        (lambda c, p: c.create_variations(b"not an image", size=64), "image.encoded"),
        (lambda c, p: c.create_variations(p, num_images=99, size=64), "num_images"),
        (lambda c, p: c.create_variations(p, eta=1.5, size=64), "eta"),
        (lambda c, p: c.create_variations(p, size=64, stages={"decoder": Sampling(eta=0.5)}), "decoder.eta"),
        (lambda c, p: c.interpolate(p, "", size=64), "end.prompt"),
        (lambda c, p: c.interpolate(p, p, num_images=1, size=64), "num_images"),
        (lambda c, p: c.edit(p, "a blue square", strength=2.0, size=64), "strength"),
        (lambda c, p: c.edit(p, "same", original_caption="same", size=64, stages=NO_PRIOR), "instruction"),
        (lambda c, p: c.inpaint(p, "a red circle", size=64), "mask"),
        (lambda c, p: c.inpaint(p, "a red circle", mask=png(np.zeros((80, 96), np.uint8)), size=64), "mask"),
        (lambda c, p: c.inpaint(p, "a red circle", mask=png(np.zeros((8, 8), np.uint8)), size=64), "mask"),
    ],
)
def test_bad_input_names_the_field(client, picture, call, field):
    with pytest.raises(grpc.RpcError) as error:
        call(client, png(picture))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(field), error.value.details()
    assert failure_details(error.value).violations[0].field.startswith(field)


@pytest.mark.parametrize(
    "argv, count",
    [
        (["vary", "{image}", "-n", "2", "--eta", "0.3"], 2),
        (["interpolate", "{image}", "a blue square", "-n", "3"], 3),
        (["edit", "{image}", "a blue square", "--original-caption", "a red square", "--strength", "0.7"], 1),
        (["inpaint", "{image}", "a red circle", "--mask", "{mask}"], 1),
    ],
)
def test_cli_flows_against_the_mesh(mesh, picture, tmp_path, argv, count):
    image, mask = tmp_path / "in.png", tmp_path / "mask.png"
    image.write_bytes(png(picture))
    marks = np.zeros(picture.shape[:2], np.uint8)
    marks[10:40, 10:40] = 255
    mask.write_bytes(png(marks))
    args = [a.format(image=image, mask=mask) for a in argv]
    out = tmp_path / "out.png"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            *args,
            "--target",
            mesh.target,
            "--size",
            "64",
            "--seed",
            "3",
            "--decoder-steps",
            "2",
            "-o",
            str(out),
        ],
        check=True,
        timeout=120,
        capture_output=True,
    )
    written = [out] if count == 1 else [out.with_name(f"out-{i}.png") for i in range(count)]
    assert [Image.open(path).size for path in written] == [(64, 64)] * count
