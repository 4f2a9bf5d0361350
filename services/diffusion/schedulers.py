"""Build a scheduler by name from a bundle's saved scheduler config, and step it.

The bundle's config (an UnCLIPScheduler config for Karlo-style bundles) fixes the training noise schedule
and what the network predicts ("sample" for the prior, "epsilon" + learned variance for decoders); the
other schedulers are built with the same schedule and prediction type.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from diffusers import (
    DDIMInverseScheduler,
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    SchedulerMixin,
    UnCLIPScheduler,
)

from services.scheduler_registry import NAMES, by_name

LEARNED_VARIANCE = ("learned", "learned_range")  # variance types that read the predicted variance
# DDIM is the sampler that DDIM inversion retraces, so it neither clips its predicted image nor starts at
# the last training timestep: with the cosine schedule sqrt(alpha_bar(999)) is 0.0016, and a latent
# inverted up to there keeps almost nothing of its image (a reconstruction's mean error was 0.77 in
# [-1, 1] units on the demo decoder; with these settings and services/decoder/inversion.py's loop,
# 0.04-0.06 at 10, 25 or 50 steps).
_DDIM = {"timestep_spacing": "leading", "clip_sample": False}


def _common(config: Mapping) -> dict:
    return {
        "num_train_timesteps": int(config.get("num_train_timesteps", 1000)),
        "beta_schedule": config.get("beta_schedule", "squaredcos_cap_v2"),
        "prediction_type": config.get("prediction_type", "epsilon"),
    }


def build_scheduler(name: str, config: Mapping) -> SchedulerMixin:
    """A fresh scheduler instance; every trajectory gets its own (they carry per-run state)."""
    common = _common(config)
    clip = {
        "clip_sample": bool(config.get("clip_sample", True)),
        "clip_sample_range": float(config.get("clip_sample_range", 1.0)),
    }
    variance_type = config.get("variance_type", "fixed_small_log")
    if name == "unclip":
        return UnCLIPScheduler(variance_type=variance_type, **clip, **common)
    if name == "ddpm":
        return DDPMScheduler(variance_type=variance_type, timestep_spacing="trailing", **clip, **common)
    if name == "ddim":
        return DDIMScheduler(**_DDIM, **common)
    if name == "dpm_solver_pp":
        return DPMSolverMultistepScheduler(algorithm_type="dpmsolver++", solver_order=2, **common)
    raise ValueError(f"unknown scheduler {name!r}, expected one of {NAMES}")


def build_inverse_scheduler(config: Mapping) -> DDIMInverseScheduler:
    """The inverse of the "ddim" sampler (same schedule, same timesteps): image -> noise. It steps on
    epsilon whatever the network predicts (services/decoder/inversion.py converts a clean-image
    prediction at each step's timestep)."""
    return DDIMInverseScheduler(**_DDIM, **{**_common(config), "prediction_type": "epsilon"})


def max_steps(config: Mapping) -> int:
    return int(config.get("num_train_timesteps", 1000))


def min_steps(name: str) -> int:
    return by_name(name).min_steps


def scheduler_step(
    scheduler: SchedulerMixin,
    model_output: torch.Tensor,
    timestep: torch.Tensor,
    sample: torch.Tensor,
    prev_timestep: torch.Tensor | None,
    generator: torch.Generator,
    eta: float = 0.0,
) -> torch.Tensor:
    """One denoising step. A learned-variance output (2x the sample's channels) is passed whole only to
    schedulers configured to use it; the others get the mean channels. Only UnCLIPScheduler takes
    `prev_timestep` (it recomputes beta for the skipped timesteps, as UnCLIPPipeline does), only
    DDIMScheduler `eta`."""
    channels = sample.shape[1]
    if (
        model_output.shape[1] == 2 * channels
        and getattr(scheduler.config, "variance_type", None) not in LEARNED_VARIANCE
    ):
        model_output = model_output[:, :channels]
    if isinstance(scheduler, UnCLIPScheduler):
        return scheduler.step(
            model_output, timestep, sample, prev_timestep=prev_timestep, generator=generator
        ).prev_sample
    if isinstance(scheduler, DDIMScheduler):
        return scheduler.step(model_output, timestep, sample, eta=eta, generator=generator).prev_sample
    return scheduler.step(model_output, timestep, sample, generator=generator).prev_sample


def noise_augment(config: Mapping, image: torch.Tensor, noise: torch.Tensor, level: int) -> torch.Tensor:
    """The forward process q(x_level | image) of the bundle's noise schedule (upsampler conditioning)."""
    schedule = DDPMScheduler(**_common(config))
    timesteps = torch.full((image.shape[0],), level, dtype=torch.long)
    return schedule.add_noise(image, noise, timesteps)
