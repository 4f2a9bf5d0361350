"""The upsamplers with --compute-dtype bfloat16: the networks run in bfloat16, the sampling in float32."""

from __future__ import annotations

import pytest
import torch

from services.bundle.loader import open_bundle
from services.runtime.settings import DEFAULT_BUNDLE
from services.upsampler.model import UpsamplerModel
from tests.upsampler.test_model import _job


def _first_outputs(reference, model, job_size: int, noise_level: int):
    """Both models' first network output for the same job, and the bfloat16 model's trajectory."""
    expected_trajectory = reference.start(_job(job_size, seed=1, noise_level=noise_level))
    trajectory = model.start(_job(job_size, seed=1, noise_level=noise_level))
    assert torch.equal(trajectory.latents, expected_trajectory.latents)  # float32 noise
    torch.testing.assert_close(
        trajectory.conditioning["image"].float(),
        expected_trajectory.conditioning["image"],
        rtol=0.01,
        atol=0.01,
    )
    [expected], [output] = reference.predict([expected_trajectory]), model.predict([trajectory])
    return expected, output, trajectory


def test_1024_bfloat16_with_noise_level(stage_models, bfloat16_stage_models):
    model = bfloat16_stage_models.upsampler_1024
    assert model.dtype == torch.bfloat16 and model.conditions_on_level
    expected, output, trajectory = _first_outputs(stage_models.upsampler_1024, model, 256, 250)
    assert output.dtype == torch.float32 and output.is_contiguous()
    assert 0 < (output - expected).norm() / expected.norm() < 0.05
    model.denoise([trajectory])
    assert trajectory.latents.dtype == torch.float32


@pytest.fixture(scope="module")
def demo_256():
    """The demo bundle's 256 upsampler, whose UNet2DModel embeds the level with a "timestep" class
    embedding, in both dtypes."""
    bundle = open_bundle(DEFAULT_BUNDLE)
    return [
        UpsamplerModel.load(bundle, "upsampler_256", "cpu", dtype)
        for dtype in (torch.float32, torch.bfloat16)
    ]


def test_timestep_class_embedding_runs_in_bfloat16(demo_256):
    reference, model = demo_256
    assert model.conditions_on_level
    expected, output, _ = _first_outputs(reference, model, 64, 100)
    assert 0 < (output - expected).norm() / expected.norm() < 0.05
