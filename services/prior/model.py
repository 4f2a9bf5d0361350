"""PriorModel: text encoding -> CLIP image embedding, with PriorTransformer (predicts x0, CFG)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import PriorTransformer

from services.bundle.loader import Bundle
from services.diffusion.stage_model import DiffusionStageModel
from services.diffusion.text import TextTensors, projection_widths
from services.diffusion.trajectory import Trajectory, batched_forward

STAGE = "prior"
_KEYS = ("proj_embedding", "encoder_hidden_states", "attention_mask")


@dataclass
class PriorJob:
    text: TextTensors  # B rows
    unconditional: TextTensors  # 1 row (the empty prompt), expanded to B
    steps: int
    guidance_scale: float
    scheduler: str
    generator: torch.Generator  # CPU
    latents: torch.Tensor | None = None  # [B, D] initial noise; drawn from `generator` when None
    eta: float = 0.0  # DDIM's stochasticity (0: deterministic)


class PriorModel(DiffusionStageModel):
    """The prior's DiffusionModel: start / denoise (one forward per batch) / finish."""

    def __init__(self, prior: PriorTransformer, bundle: Bundle, device: torch.device) -> None:
        super().__init__(bundle, STAGE, device)
        self.prior = prior

    @classmethod
    def load(cls, bundle: Bundle, device: str = "cpu", dtype: torch.dtype = torch.float32) -> PriorModel:
        bundle.verify(STAGE)
        prior = bundle.load(STAGE, "prior", lambda f: PriorTransformer.from_pretrained(f, torch_dtype=dtype))
        return cls(prior.to(device).eval(), bundle, torch.device(device))

    @property
    def embedding_dim(self) -> int:
        return self.prior.config.embedding_dim

    @property
    def text_widths(self) -> dict[str, int]:
        """The widths and length of the text conditioning it takes."""
        return {**projection_widths(self.prior), "length": self.prior.config.num_embeddings}

    @property
    def dtype(self) -> torch.dtype:
        """The network's compute dtype; the latents are float32 (services/diffusion/compute_dtype.py)."""
        return self.prior.dtype

    @torch.inference_mode()
    def start(self, job: PriorJob) -> Trajectory:
        rows = len(job.text)
        text = job.text
        if job.guidance_scale > 1.0:
            text = TextTensors.cat([job.unconditional.expand(rows), text])
        text = text.to(self.device, self.dtype)
        conditioning = dict(
            zip(_KEYS, (text.text_embedding, text.token_states, text.attention_mask), strict=True)
        )
        return self.start_job(job, (rows, self.embedding_dim), job.guidance_scale, conditioning)

    @torch.inference_mode()
    def predict(self, batch: list[Trajectory]) -> list[torch.Tensor]:
        """The network output of each trajectory's current step, from ONE forward for the batch."""

        def forward(sample, timesteps, **conditioning):
            return self.prior(sample, timestep=timesteps, **conditioning).predicted_image_embedding

        return batched_forward(batch, _KEYS, forward, self.dtype)

    @torch.inference_mode()
    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        """The image embedding [B, D], float32 on CPU (un-normalised with the prior's CLIP mean/std)."""
        return self.prior.post_process_latents(trajectory.latents).float().cpu()
