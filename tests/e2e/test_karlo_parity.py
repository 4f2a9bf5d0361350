"""The mesh, as separate processes on a tiny Karlo-layout folder served as it is, returns
UnCLIPPipeline's (and UnCLIPImageVariationPipeline's) 64 px and 256 px images for the same folder,
prompt, seed and step counts, with one torch thread in the stage processes and in the reference."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

from services.bundle.tiny_karlo import write_tiny_karlo
from services.cli.local_mesh import LocalMesh
from services.client.sdk import GenerationClient, Sampling
from tests.karlo_reference import Record, record, reference_pipeline, variation_pipeline

pytestmark = pytest.mark.e2e

PROMPT = "a red cube on a table!"  # '!' is Karlo's pad token
SEED, STEPS, PRIOR_GUIDANCE, DECODER_GUIDANCE = 5, 3, 4.0, 8.0
KNOBS = {"prior": Sampling(steps=STEPS, guidance=PRIOR_GUIDANCE),
         "decoder": Sampling(steps=STEPS, guidance=DECODER_GUIDANCE), "upsampler_256": Sampling(steps=STEPS)}


@pytest.fixture(scope="module")
def karlo(tmp_path_factory) -> Iterator[tuple[str, GenerationClient]]:
    folder = write_tiny_karlo(tmp_path_factory.mktemp("karlo")).root
    with LocalMesh(folder, stages=("text_encoder", "prior", "decoder", "upsampler_256"),
                   stage_args=("--torch-threads", "1")) as mesh, GenerationClient(mesh.target) as client:
        yield folder, client


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
    folder, client = karlo
    pipe = reference_pipeline(folder)
    rec: Record = record(pipe)
    with one_thread():
        rec.images = pipe(PROMPT, generator=torch.Generator().manual_seed(SEED),
                          prior_num_inference_steps=STEPS, decoder_num_inference_steps=STEPS,
                          super_res_num_inference_steps=STEPS, prior_guidance_scale=PRIOR_GUIDANCE,
                          decoder_guidance_scale=DECODER_GUIDANCE, output_type="np").images
    for size, expected in ((64, rec.image_64()), (256, rec.images)):
        result = client.generate(PROMPT, seed=SEED, size=size, stages=KNOBS, timeout=120)
        assert result.size == size
        _assert_same_images(result.png_images[0], expected[0])


def test_variations_match_unclip_image_variation_pipeline(karlo):
    folder, client = karlo
    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 256, (48, 48, 3), dtype=np.uint8))  # square: no crop rule involved
    png = io.BytesIO()
    image.save(png, format="PNG")
    pipe = variation_pipeline(folder)
    rec = record(pipe)
    with one_thread():
        rec.images = pipe(image=image, generator=torch.Generator().manual_seed(SEED),
                          decoder_num_inference_steps=STEPS, super_res_num_inference_steps=STEPS,
                          decoder_guidance_scale=DECODER_GUIDANCE, output_type="np").images
    knobs = {stage: KNOBS[stage] for stage in ("decoder", "upsampler_256")}
    for size, expected in ((64, rec.image_64()), (256, rec.images)):
        result = client.create_variations(png.getvalue(), seed=SEED, size=size, stages=knobs, timeout=120)
        _assert_same_images(result.png_images[0], expected[0])
