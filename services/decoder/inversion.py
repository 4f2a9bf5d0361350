"""DDIM inversion: the decoder's deterministic sampler run backwards, images -> the noise that
decodes to them (under their own embedding). Used for interpolations and text-diff edits.

It has the DiffusionModel shape (start / denoise / finish), so the step batcher batches inversions
across requests as it batches decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from services.decoder.model import DecoderJob, DecoderModel
from services.diffusion.schedulers import build_inverse_scheduler
from services.diffusion.text import TextTensors
from services.diffusion.trajectory import Trajectory


@dataclass
class InversionJob:
    images: torch.Tensor           # [B, 3, S, S] in [-1, 1]
    image_embedding: torch.Tensor  # [B, D]
    text: TextTensors              # B rows
    steps: int


class DecoderInversion:
    def __init__(self, decoder: DecoderModel):
        self.decoder = decoder
        self.defaults = decoder.defaults
        self.max_steps = decoder.max_steps

    @torch.inference_mode()
    def start(self, job: InversionJob) -> Trajectory:
        trajectory = self.decoder.start(DecoderJob(
            image_embedding=job.image_embedding, text=job.text, unconditional=job.text, steps=job.steps,
            guidance_scale=1.0, scheduler="ddim", generator=torch.Generator(), latents=job.images))
        trajectory.scheduler = build_inverse_scheduler(self.decoder.scheduler_config)
        trajectory.scheduler.set_timesteps(job.steps, device="cpu")
        trajectory.timesteps = trajectory.scheduler.timesteps
        return trajectory

    @torch.inference_mode()
    def denoise(self, batch: list[Trajectory]) -> None:
        for trajectory, output in zip(batch, self.decoder.predict(batch)):
            epsilon = output[:, :trajectory.latents.shape[1]]
            trajectory.latents = trajectory.scheduler.step(epsilon, trajectory.timestep,
                                                           trajectory.latents).prev_sample
            trajectory.step += 1

    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        return trajectory.latents.float().cpu()
