"""DDIM inversion on the demo bundle's decoder (it predicts the clean image): the noise it finds is
Gaussian-like and decodes back to the image; the loop starts from the forward-noised image."""

import io
from pathlib import Path

import pytest
import torch
from PIL import Image

from services.bundle.loader import open_bundle
from services.decoder.inversion import DecoderInversion, InversionJob
from services.decoder.model import DecoderJob, DecoderModel
from services.orchestrator.input_images import as_stage_image, rgb_pixels
from services.text_encoder.model import TextEncoderModel
from training.sampling import run_stage
from training.world import scene_png

BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo"


@pytest.fixture(scope="module")
def models():
    bundle = open_bundle(BUNDLE)
    return TextEncoderModel.load(bundle), DecoderModel.load(bundle)


@pytest.fixture(scope="module")
def scene(models):
    """A red star on white: its 64 px image and its CLIP image embedding."""
    text_encoder, _ = models
    image = Image.open(io.BytesIO(scene_png("red", "star", "white"))).convert("RGB")
    return as_stage_image(image, 64), text_encoder.encode_image(torch.from_numpy(rgb_pixels(image)))


def invert(models, scene, steps=25, seed=0):
    text_encoder, decoder = models
    image, embedding = scene
    job = InversionJob(image, embedding, text_encoder.unconditional(), steps,
                       torch.Generator().manual_seed(seed))
    return DecoderInversion(decoder), job


def test_inverted_noise_is_gaussian_and_decodes_back(models, scene):
    text_encoder, decoder = models
    inversion, job = invert(models, scene)
    noise = run_stage(inversion, job)
    assert 0.6 < noise.std() < 1.4 and noise.mean().abs() < 0.2  # the old loop's: std 17
    empty = text_encoder.unconditional()
    decoded = run_stage(decoder, DecoderJob(scene[1], empty, empty, 25, 1.0, "ddim", torch.Generator(),
                                            latents=noise))
    assert (decoded - scene[0]).abs().mean() < 0.08


def test_the_loop_starts_from_the_forward_noised_image(models, scene):
    inversion, job = invert(models, scene, steps=25)
    trajectory = inversion.start(job)
    assert trajectory.step == 3 and trajectory.total_steps == 25  # timesteps 0, 40, 80 are at or below 80
    assert 0.01 < (trajectory.latents - scene[0]).abs().mean() < 0.3
    single, single_job = invert(models, scene, steps=1)
    assert single.start(single_job).step == 0 and torch.equal(single.start(single_job).latents, scene[0])


def test_the_start_noise_comes_from_the_generator(models, scene):
    starts = [inversion.start(job).latents for inversion, job in
              (invert(models, scene, seed=1), invert(models, scene, seed=1), invert(models, scene, seed=2))]
    assert torch.equal(starts[0], starts[1]) and not torch.equal(starts[0], starts[2])
