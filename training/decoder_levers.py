"""The decoder's training levers: timestep weighting and sampling, the embedding standardised per
dimension (folded into text_proj at export), and the batch drawn in shape groups.

Each is a key of the decoder config; absent, training is what it was before the lever existed.
"""

from __future__ import annotations

import torch
from diffusers import DDPMScheduler
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel

from training import world


def loss_weights(
    process: DDPMScheduler, timesteps: torch.Tensor, min_snr_gamma: float | None
) -> torch.Tensor:
    """[B] weights of a clean-image loss: 1, or min(SNR, gamma) / gamma (Min-SNR-gamma, Hang et al.
    2023, written for x0 targets and scaled so that the clean end of the schedule weighs 1)."""
    if min_snr_gamma is None:
        return torch.ones(timesteps.shape, device=timesteps.device)
    alpha_bar = process.alphas_cumprod.to(timesteps.device)[timesteps]
    snr = alpha_bar / (1 - alpha_bar)
    return snr.clamp(max=min_snr_gamma) / min_snr_gamma


def sample_timesteps(
    rows: int, train_timesteps: int, generator: torch.Generator, high_noise_bias: float
) -> torch.Tensor:
    """[B] training timesteps: uniform at bias 1; with bias b > 1, t = T (1 - u^b), so more of them fall
    at the noisy end, where the layout is decided."""
    u = torch.rand(rows, generator=generator)
    return ((1 - u.pow(high_noise_bias)) * train_timesteps).long().clamp(0, train_timesteps - 1)


def training_scenes(rows: int, generator: torch.Generator, shape_groups: bool) -> world.Scenes:
    """The batch's scenes: independent, or groups of three that differ only in shape (rows // 3 groups)."""
    if shape_groups:
        return world.sample_shape_groups(rows // 3, generator)
    return world.sample_scenes(rows, generator)


@torch.no_grad()
def fold_standardisation(text_proj: UnCLIPTextProjModel, mean: torch.Tensor, std: torch.Tensor) -> None:
    """Make a text_proj trained on (embedding - mean) / std take the raw embedding: the two layers that
    read the image embedding get weight / std and bias - weight @ (mean / std), and the learned null
    embedding moves to raw space. The bundle stays in diffusers' layout and needs nothing new."""
    mean, std = mean.flatten(), std.flatten()
    for layer in (
        text_proj.clip_image_embeddings_project_to_time_embeddings,
        text_proj.clip_extra_context_tokens_proj,
    ):
        layer.bias -= layer.weight @ (mean / std)
        layer.weight /= std
    null = text_proj.learned_classifier_free_guidance_embeddings
    null.copy_(null * std + mean)
