"""The mesh, as separate processes on tiny checkpoints in Karlo's two published layouts served as they
are, returns UnCLIPPipeline's images (text-to-image folder) and UnCLIPImageVariationPipeline's
(image-variations folder, which has no prior) at 64 px and 256 px for the same folder, prompt or image,
seed and step counts, with one torch thread in the stage processes and in the reference; and refuses
what a mesh cannot serve with a status naming what is missing."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import grpc
import numpy as np
import pytest
import torch
from PIL import Image

from tests.karlo_reference import Record, record, reference_pipeline, variation_pipeline
from unclip_mesh.bundles.tiny_karlo import write_tiny_karlo
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient, Sampling

pytestmark = pytest.mark.e2e

PROMPT = "a red cube on a table!"  # '!' is Karlo's pad token
SEED, STEPS, PRIOR_GUIDANCE, DECODER_GUIDANCE = 5, 3, 4.0, 8.0
KNOBS = {
    "prior": Sampling(steps=STEPS, guidance=PRIOR_GUIDANCE),
    "decoder": Sampling(steps=STEPS, guidance=DECODER_GUIDANCE),
    "upsampler_256": Sampling(steps=STEPS),
}


@dataclass
class Served:
    folder: Path
    target: str
    client: GenerationClient


def _mesh(tmp_path_factory, layout: str) -> Iterator[Served]:
    """Every stage the folder has, each its own process, as `unclip-mesh up` starts them."""
    folder = write_tiny_karlo(tmp_path_factory.mktemp(layout), layout=layout).root
    with (
        LocalMesh(folder, stage_args=("--torch-threads", "1")) as mesh,
        GenerationClient(mesh.target) as client,
    ):
        yield Served(folder, mesh.target, client)


@pytest.fixture(scope="module")
def karlo(tmp_path_factory) -> Iterator[Served]:
    yield from _mesh(tmp_path_factory, "text-to-image")


@pytest.fixture(scope="module")
def karlo_variations(tmp_path_factory) -> Iterator[Served]:
    yield from _mesh(tmp_path_factory, "image-variations")


@contextmanager
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png))).astype(int)


def _quantized(images: np.ndarray) -> np.ndarray:
    """diffusers' numpy_to_pil rounding, as the mesh's last stage does."""
    return (images * 255).round().astype(int)


def _assert_same_images(mesh_png: bytes, reference: np.ndarray) -> None:
    difference = np.abs(_pixels(mesh_png) - _quantized(reference))
    assert difference.max() <= 1, f"max pixel difference {difference.max()}/255"


def test_text_to_image_matches_unclip_pipeline(karlo):
    folder, client = karlo.folder, karlo.client
    pipe = reference_pipeline(folder)
    rec: Record = record(pipe)
    with one_thread():
        rec.images = pipe(
            PROMPT,
            generator=torch.Generator().manual_seed(SEED),
            prior_num_inference_steps=STEPS,
            decoder_num_inference_steps=STEPS,
            super_res_num_inference_steps=STEPS,
            prior_guidance_scale=PRIOR_GUIDANCE,
            decoder_guidance_scale=DECODER_GUIDANCE,
            output_type="np",
        ).images
    for size, expected in ((64, rec.image_64()), (256, rec.images)):
        result = client.generate(PROMPT, seed=SEED, size=size, stages=KNOBS, timeout=120)
        assert result.size == size
        _assert_same_images(result.png_images[0], expected[0])


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize("width, height", [(48, 48), (320, 200)])
def test_variations_match_unclip_image_variation_pipeline(karlo_variations, width, height):
    """A non-square input is resized on its shortest side, then centre-cropped, as the checkpoint's
    CLIPImageProcessor does (cropping to a square first moves almost every pixel of the result)."""
    folder, client = karlo_variations.folder, karlo_variations.client
    rng = np.random.default_rng(width)
    image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))
    pipe = variation_pipeline(folder)
    rec = record(pipe)
    with one_thread():
        rec.images = pipe(
            image=image,
            generator=torch.Generator().manual_seed(SEED),
            decoder_num_inference_steps=STEPS,
            super_res_num_inference_steps=STEPS,
            decoder_guidance_scale=DECODER_GUIDANCE,
            output_type="np",
        ).images
    knobs = {stage: KNOBS[stage] for stage in ("decoder", "upsampler_256")}
    results = {
        size: client.create_variations(_png(image), seed=SEED, size=size, stages=knobs, timeout=120)
        for size in (64, 256, None)
    }
    for size, expected in ((64, rec.image_64()), (256, rec.images)):
        assert results[size].size == size
        _assert_same_images(results[size].png_images[0], expected[0])
    assert results[None].size == 256 and results[None].png_images == results[256].png_images


def _status(call) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.RpcError) as error:
        call()
    return error.value.code(), error.value.details()


def test_requests_a_mesh_cannot_serve_name_what_is_missing(karlo, karlo_variations):
    variations, text_to_image = karlo_variations.client, karlo.client
    image = _png(Image.new("RGB", (40, 30), (200, 30, 30)))
    not_run = "stage, which this mesh does not run"
    assert _status(lambda: variations.create_variations(image, size=1024, timeout=60)) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        f"size: 1024 px needs the upsampler_1024 {not_run}",
    )
    assert _status(lambda: variations.generate(PROMPT, timeout=60)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"GenerateImages needs the prior {not_run}",
    )
    mask = _png(Image.new("L", (40, 30), 255))
    assert _status(lambda: variations.inpaint(image, PROMPT, mask=mask, timeout=60)) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        f"InpaintImage needs the prior {not_run}",
    )
    code, details = _status(lambda: text_to_image.create_variations(image, size=64, timeout=60))
    assert code == grpc.StatusCode.FAILED_PRECONDITION and "image_encoder/" in details


def test_the_cli_prints_a_refusal_as_one_line(karlo_variations, tmp_path):
    finished = subprocess.run(
        [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "generate",
            PROMPT,
            "--target",
            karlo_variations.target,
            "-o",
            str(tmp_path / "out.png"),
            "--timeout",
            "60",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert finished.returncode == 1
    assert finished.stderr.splitlines() == [
        "error: FAILED_PRECONDITION: GenerateImages needs the prior stage, which this mesh does not run"
    ]
