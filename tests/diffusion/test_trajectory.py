"""Trajectory bookkeeping: UnCLIPPipeline's previous-timestep logic, guidance, initial noise."""

from __future__ import annotations

import pytest
import torch
from diffusers.utils.torch_utils import randn_tensor

from services.diffusion.trajectory import start_trajectory

CONFIG = {"num_train_timesteps": 1000, "variance_type": "learned_range", "prediction_type": "epsilon"}


def _start(guidance: float = 1.0, **kwargs):
    return start_trajectory(
        shape=(2, 3, 4, 4),
        scheduler_name="unclip",
        scheduler_config=CONFIG,
        steps=3,
        generator=torch.Generator().manual_seed(0),
        device=torch.device("cpu"),
        guidance_scale=guidance,
        **kwargs,
    )


def test_timesteps_and_prev_timestep_follow_the_pipeline():
    trajectory = _start()
    assert trajectory.timesteps.tolist() == [999, 500, 0]
    seen = []
    while not trajectory.done:
        prev = trajectory.prev_timestep
        seen.append((int(trajectory.timestep), None if prev is None else int(prev)))
        trajectory.advance(torch.zeros(2, 6, 4, 4))
    assert seen == [(999, 500), (500, 0), (0, None)]
    assert trajectory.step == trajectory.total_steps == 3


def test_initial_noise_is_the_generators_first_draw():
    trajectory = _start()
    expected = randn_tensor((2, 3, 4, 4), generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(trajectory.latents, expected, rtol=0, atol=0)


def test_given_latents_are_used_and_checked():
    latents = torch.ones(2, 3, 4, 4)
    assert torch.equal(_start(latents=latents).latents, latents)
    with pytest.raises(ValueError, match="latents"):
        _start(latents=torch.ones(1, 3, 4, 4))


def test_guidance_combines_mean_channels_and_keeps_text_variance():
    trajectory = _start(guidance=3.0)
    assert trajectory.guided and trajectory.rows == 4
    uncond, text = torch.zeros(2, 6, 4, 4), torch.ones(2, 6, 4, 4)
    text[:, 3:] = 0.5
    guided = trajectory.guide(torch.cat([uncond, text]))
    assert torch.equal(guided[:, :3], torch.full((2, 3, 4, 4), 3.0))
    assert torch.equal(guided[:, 3:], torch.full((2, 3, 4, 4), 0.5))
    assert not _start(guidance=1.0).guided
