"""DDIM inversion on the demo bundle's decoder (it predicts the clean image): the noise it finds is
noise-like and decodes back to the image; the loop starts from the forward-noised image."""

import io
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from services.bundle.loader import open_bundle
from services.decoder.inversion import DecoderInversion, InversionJob
from services.decoder.model import DecoderJob, DecoderModel
from services.inprocess_cascade import run_stage
from services.orchestrator.input_images import as_stage_image, rgb_pixels
from services.runtime.errors import FailedPrecondition
from services.text_encoder.model import TextEncoderModel
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


def inversion_and_job(models, scene, steps=25, seed=0):
    text_encoder, decoder = models
    image, embedding = scene
    job = InversionJob(
        image, embedding, text_encoder.unconditional(), steps, torch.Generator().manual_seed(seed)
    )
    return DecoderInversion(decoder), job


def test_inverted_noise_is_noise_like_and_decodes_back(models, scene):
    text_encoder, decoder = models
    noise = run_stage(*inversion_and_job(models, scene))
    assert 0.6 < noise.std() < 1.4 and noise.mean().abs() < 0.2  # the loop before: std 17
    correlation = torch.corrcoef(torch.stack([noise.flatten(), scene[0].flatten()]))[0, 1]
    assert correlation < 0.4  # 0.31: part of the image stays in the noise (the module docstring)
    empty = text_encoder.unconditional()
    decoded = run_stage(
        decoder, DecoderJob(scene[1], empty, empty, 25, 1.0, "ddim", torch.Generator(), latents=noise)
    )
    assert (decoded - scene[0]).abs().mean() < 0.08


@pytest.mark.parametrize(("steps", "first_step"), [(25, 3), (10, 2), (1, 0)])
def test_the_loop_starts_from_the_forward_noised_image(models, scene, steps, first_step):
    """25 steps: timesteps 0, 40, 80 lie at or below 80, so it starts at 80; 10 steps: only 0 does, so
    it starts at the second timestep (100); a single step runs from the image itself."""
    inversion, job = inversion_and_job(models, scene, steps=steps)
    trajectory = inversion.start(job)
    assert trajectory.step == first_step and trajectory.total_steps == steps
    moved = (trajectory.latents - scene[0]).abs().mean()
    assert moved == 0 if first_step == 0 else 0.01 < moved < 0.3


def test_the_start_noise_comes_from_the_generator(models, scene):
    starts = [
        inversion.start(job).latents
        for inversion, job in (
            inversion_and_job(models, scene, seed=1),
            inversion_and_job(models, scene, seed=1),
            inversion_and_job(models, scene, seed=2),
        )
    ]
    assert torch.equal(starts[0], starts[1]) and not torch.equal(starts[0], starts[2])


def test_only_epsilon_and_clean_image_decoders_are_inverted():
    decoder = SimpleNamespace(
        scheduler_config={"prediction_type": "v_prediction"}, defaults=None, max_steps=1000
    )
    with pytest.raises(FailedPrecondition, match="v_prediction"):
        DecoderInversion(decoder)
