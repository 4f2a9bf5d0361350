"""DDIM inversion: the decoder's deterministic sampler run backwards, images -> the noise that
decodes to them (under their own embedding). Used for variations, interpolations and text-diff edits.

Two choices keep that noise Gaussian for a decoder that predicts the clean image. Run on the demo
bundle's red square, circle, triangle and star (25 steps) without them, the inverted noise had a
standard deviation of 12 to 17 (Gaussian noise: 1): it decoded back to the image under the image's
own embedding, but under any other embedding it fell apart, so an edit could not keep the shape.
- Each step turns the network's clean-image prediction into epsilon at the step's own timestep (the
  level the network was asked about), not at the level the latent is still at: next to t = 0,
  sqrt(1 - alpha_bar) is 0.006, and the decoder's small reconstruction error divided by it became
  the noise. Alone this brought the deviation to 2-3.
- The loop starts from the image noised by the forward process to START_FRACTION of the schedule
  (noise from the job's generator) and inverts from there: below that level every step still adds
  the decoder's low-noise error, amplified, to the latent. With both: deviation 0.8, reconstruction
  error 0.04-0.06 (was 0.06-0.10), and edits that keep the shape (docs/TRAINING.md).

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

START_FRACTION = 0.08  # the forward-noised start, as a fraction of the training timesteps


@dataclass
class InversionJob:
    images: torch.Tensor           # [B, 3, S, S] in [-1, 1]
    image_embedding: torch.Tensor  # [B, D]
    text: TextTensors              # B rows
    steps: int
    generator: torch.Generator     # CPU: the noise of the forward-noised start


class DecoderInversion:
    def __init__(self, decoder: DecoderModel):
        self.decoder = decoder
        self.defaults = decoder.defaults
        self.max_steps = decoder.max_steps
        self._predicts_sample = decoder.scheduler_config.get("prediction_type") == "sample"

    @torch.inference_mode()
    def start(self, job: InversionJob) -> Trajectory:
        scheduler = build_inverse_scheduler(self.decoder.scheduler_config)
        scheduler.set_timesteps(job.steps, device="cpu")
        timesteps = scheduler.timesteps
        # The last timestep at or below the start level, leaving at least one step to run.
        start_level = START_FRACTION * scheduler.config.num_train_timesteps
        start = min(int((timesteps <= start_level).sum()) - 1, len(timesteps) - 2)
        images = job.images
        if start >= 0:
            alpha = scheduler.alphas_cumprod[timesteps[start]]
            noise = torch.randn(images.shape, generator=job.generator, dtype=images.dtype)
            images = alpha.sqrt() * images + (1 - alpha).sqrt() * noise
        trajectory = self.decoder.start(DecoderJob(
            image_embedding=job.image_embedding, text=job.text, unconditional=job.text, steps=job.steps,
            guidance_scale=1.0, scheduler="ddim", generator=job.generator, latents=images))
        trajectory.scheduler, trajectory.timesteps, trajectory.step = scheduler, timesteps, start + 1
        return trajectory

    @torch.inference_mode()
    def denoise(self, batch: list[Trajectory]) -> None:
        for trajectory, output in zip(batch, self.decoder.predict(batch)):
            epsilon = self._epsilon(output[:, :trajectory.latents.shape[1]], trajectory)
            trajectory.latents = trajectory.scheduler.step(epsilon, trajectory.timestep,
                                                           trajectory.latents).prev_sample
            trajectory.step += 1

    def _epsilon(self, output: torch.Tensor, trajectory: Trajectory) -> torch.Tensor:
        """The network's noise estimate at the step's timestep (see the module docstring)."""
        if not self._predicts_sample:
            return output
        alpha = trajectory.scheduler.alphas_cumprod[trajectory.timestep].to(output)
        return (trajectory.latents - alpha.sqrt() * output) / (1 - alpha).sqrt()

    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        return trajectory.latents.float().cpu()
