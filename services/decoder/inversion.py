"""DDIM inversion: the decoder's deterministic sampler run backwards, images -> the noise that
decodes to them (under their own embedding). Used for variations, interpolations and text-diff edits.

Two choices, both measured on the demo bundle's decoder (it predicts the clean image) with a red
square, circle, triangle and star at 25 steps (docs/TRAINING.md, "Text-diff edits"):
- Each step reads the network's clean-image prediction as a noise estimate at the step's own
  timestep (the level the network was asked about), i.e. runs diffusers' epsilon inversion on the
  network seen as an epsilon predictor. Converted at the level the latent is still at instead (what
  DDIMInverseScheduler does for "sample" networks), the decoder's small reconstruction error next to
  t = 0 is divided by sqrt(1 - alpha_bar) = 0.006 and the noise came out with a deviation of 12-17;
  it decoded back only under the image's own embedding, and edits lost the shape. This reading is
  not exact for a perfect predictor: it leaves part of the image in the noise (correlation with the
  image 0.26-0.31, against 0.11-0.17 for the other reading from the same start), which is part of
  what keeps the outline of an edit (8 of 12 edits keep the shape, against 2 of 12).
- The loop starts from the image noised by the forward process (noise from the job's generator) to
  the last timestep at or below START_FRACTION of the schedule, or to the second timestep where only
  t = 0 lies there: below that level every step adds the decoder's low-noise error, amplified, to the
  latent. This holds for any decoder, epsilon-predicting ones included.

It has the DiffusionModel shape (start / denoise / finish), so the step batcher batches inversions
across requests as it batches decoding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from services.decoder.model import DecoderJob, DecoderModel
from services.diffusion.schedulers import build_inverse_scheduler, noise_augment
from services.diffusion.text import TextTensors
from services.diffusion.trajectory import Trajectory
from services.runtime.errors import FailedPrecondition

START_FRACTION = 0.08  # the forward-noised start, as a fraction of the training timesteps
_PREDICTIONS = ("epsilon", "sample")


@dataclass
class InversionJob:
    images: torch.Tensor  # [B, 3, S, S] in [-1, 1]
    image_embedding: torch.Tensor  # [B, D]
    text: TextTensors  # B rows
    steps: int
    generator: torch.Generator  # CPU: the noise of the forward-noised start


class DecoderInversion:
    def __init__(self, decoder: DecoderModel):
        prediction = decoder.scheduler_config.get("prediction_type", "epsilon")
        if prediction not in _PREDICTIONS:
            raise FailedPrecondition(
                f"InvertImage: the decoder predicts {prediction!r}; inversion "
                f"supports {' and '.join(_PREDICTIONS)}"
            )
        self.decoder = decoder
        self.defaults = decoder.defaults
        self.max_steps = decoder.max_steps
        self._predicts_sample = prediction == "sample"

    @torch.inference_mode()
    def start(self, job: InversionJob) -> Trajectory:
        scheduler = build_inverse_scheduler(self.decoder.scheduler_config)
        scheduler.set_timesteps(job.steps, device="cpu")
        timesteps = scheduler.timesteps
        below = int((timesteps <= START_FRACTION * scheduler.config.num_train_timesteps).sum())
        start = min(max(below - 1, 1), len(timesteps) - 2)  # at least one step is left to run
        images = job.images
        if start >= 0:
            noise = torch.randn(images.shape, generator=job.generator, dtype=images.dtype)
            images = noise_augment(self.decoder.scheduler_config, images, noise, int(timesteps[start]))
        trajectory = self.decoder.start(
            DecoderJob(
                image_embedding=job.image_embedding,
                text=job.text,
                unconditional=job.text,
                steps=job.steps,
                guidance_scale=1.0,
                scheduler="ddim",
                generator=job.generator,
                latents=images,
            )
        )
        trajectory.scheduler, trajectory.timesteps, trajectory.step = scheduler, timesteps, start + 1
        return trajectory

    @torch.inference_mode()
    def denoise(self, batch: list[Trajectory]) -> None:
        for trajectory, output in zip(batch, self.decoder.predict(batch), strict=True):
            epsilon = self._epsilon(output[:, : trajectory.latents.shape[1]], trajectory)
            trajectory.latents = trajectory.scheduler.step(
                epsilon, trajectory.timestep, trajectory.latents
            ).prev_sample
            trajectory.step += 1

    def _epsilon(self, output: torch.Tensor, trajectory: Trajectory) -> torch.Tensor:
        """The network's noise estimate at the step's timestep (see the module docstring)."""
        if not self._predicts_sample:
            return output
        # A Python float: 1 - alpha_bar next to t = 0 would round to 0 in float16.
        alpha = float(trajectory.scheduler.alphas_cumprod[trajectory.timestep])
        return (trajectory.latents - alpha**0.5 * output) / (1 - alpha) ** 0.5

    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        return trajectory.latents.float().cpu()
