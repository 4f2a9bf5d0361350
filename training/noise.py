"""The forward diffusion process all steps train with: cosine schedule, 1000 steps (UnCLIPScheduler's)."""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler

TRAIN_TIMESTEPS = 1000


def schedule() -> DDPMScheduler:
    return DDPMScheduler(num_train_timesteps=TRAIN_TIMESTEPS, beta_schedule="squaredcos_cap_v2")


def add_noise(
    process: DDPMScheduler,
    clean: torch.Tensor,
    generator: torch.Generator,
    timesteps: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(noisy sample, timesteps [B], the noise); timesteps uniform over the training range unless given."""
    if timesteps is None:
        timesteps = torch.randint(TRAIN_TIMESTEPS, (clean.shape[0],), generator=generator)
    noise = torch.randn(clean.shape, generator=generator).to(clean.device)
    timesteps = timesteps.to(clean.device)
    return process.add_noise(clean, noise, timesteps), timesteps, noise
