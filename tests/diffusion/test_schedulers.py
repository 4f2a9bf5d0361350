"""Schedulers by name from a bundle config; which output channels each step sees."""

from __future__ import annotations

import pytest
import torch
from diffusers import DDIMScheduler, DDPMScheduler, DPMSolverMultistepScheduler, UnCLIPScheduler

from services.diffusion.schedulers import build_scheduler, max_steps, min_steps, noise_augment, scheduler_step
from services.scheduler_registry import NAMES as SCHEDULER_NAMES

DECODER_CONFIG = {
    "_class_name": "UnCLIPScheduler",
    "num_train_timesteps": 1000,
    "variance_type": "learned_range",
    "prediction_type": "epsilon",
    "clip_sample": True,
    "clip_sample_range": 1.0,
}
PRIOR_CONFIG = {
    **DECODER_CONFIG,
    "variance_type": "fixed_small_log",
    "prediction_type": "sample",
    "clip_sample_range": 5.0,
}


@pytest.mark.parametrize(
    "name, cls",
    list(
        zip(
            SCHEDULER_NAMES,
            (UnCLIPScheduler, DDPMScheduler, DDIMScheduler, DPMSolverMultistepScheduler),
            strict=True,
        )
    ),
)
def test_build_by_name_keeps_schedule_and_prediction_type(name, cls):
    scheduler = build_scheduler(name, PRIOR_CONFIG)
    assert isinstance(scheduler, cls)
    assert scheduler.config.prediction_type == "sample"
    assert scheduler.config.num_train_timesteps == 1000
    reference = UnCLIPScheduler.from_config(PRIOR_CONFIG)
    torch.testing.assert_close(scheduler.alphas_cumprod, reference.alphas_cumprod)


def test_dpm_solver_is_the_plus_plus_variant():
    assert build_scheduler("dpm_solver_pp", DECODER_CONFIG).config.algorithm_type == "dpmsolver++"


def test_unknown_name():
    with pytest.raises(ValueError, match="unknown scheduler"):
        build_scheduler("euler", PRIOR_CONFIG)


def test_step_limits():
    assert max_steps(DECODER_CONFIG) == 1000
    assert min_steps("unclip") == 2 and min_steps("ddim") == 1


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_learned_variance_output_reaches_every_scheduler_in_the_shape_it_takes(name):
    scheduler = build_scheduler(name, DECODER_CONFIG)
    scheduler.set_timesteps(4)
    sample = torch.randn(2, 3, 8, 8)
    output = torch.randn(2, 6, 8, 8)
    t, prev = scheduler.timesteps[0], scheduler.timesteps[1]
    result = scheduler_step(scheduler, output, t, sample, prev, torch.Generator().manual_seed(0))
    assert result.shape == sample.shape and torch.isfinite(result).all()


def test_unclip_step_gets_prev_timestep():
    """UnCLIPScheduler recomputes beta for skipped timesteps only when told the previous timestep."""
    sample, output = torch.randn(1, 4), torch.randn(1, 4)
    scheduler = build_scheduler("unclip", PRIOR_CONFIG)
    scheduler.set_timesteps(3)
    t, prev = scheduler.timesteps[0], scheduler.timesteps[1]
    ours = scheduler_step(scheduler, output, t, sample, prev, torch.Generator().manual_seed(0))
    expected = (
        UnCLIPScheduler.from_config(PRIOR_CONFIG)
        .step(output, t, sample, prev_timestep=prev, generator=torch.Generator().manual_seed(0))
        .prev_sample
    )
    torch.testing.assert_close(ours, expected, rtol=0, atol=0)


def test_noise_augment_follows_the_schedule():
    image, noise = torch.ones(1, 3, 2, 2), torch.zeros(1, 3, 2, 2)
    alpha_bar = UnCLIPScheduler.from_config(DECODER_CONFIG).alphas_cumprod[250]
    torch.testing.assert_close(noise_augment(DECODER_CONFIG, image, noise, 250), image * alpha_bar.sqrt())
