"""What the three diffusion stage models share: the scheduler config, defaults, and `denoise`."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from services.bundle.loader import Bundle
from services.diffusion.schedulers import max_steps
from services.diffusion.trajectory import Trajectory, advance_batch, start_trajectory


class DiffusionStageModel(ABC):
    """Base of PriorModel, DecoderModel and UpsamplerModel (the DiffusionModel protocol)."""

    def __init__(self, bundle: Bundle, stage: str, device: torch.device) -> None:
        self.stage = stage
        self.scheduler_config = bundle.scheduler_config(stage)
        self.defaults = bundle.defaults(stage)
        self.max_steps = max_steps(self.scheduler_config)
        self.device = device

    def start_job(
        self,
        job,
        shape: tuple[int, ...],
        guidance_scale: float = 1.0,
        conditioning: dict[str, torch.Tensor] | None = None,
    ) -> Trajectory:
        """A trajectory of `shape` for a stage job's sampling knobs (scheduler, steps, generator, eta,
        given latents): its timesteps set, its initial noise drawn as UnCLIPPipeline draws it."""
        return start_trajectory(
            shape=shape,
            scheduler_name=job.scheduler,
            scheduler_config=self.scheduler_config,
            steps=job.steps,
            generator=job.generator,
            device=self.device,
            guidance_scale=guidance_scale,
            eta=job.eta,
            latents=job.latents,
            conditioning=conditioning,
        )

    @abstractmethod
    def predict(self, batch: list[Trajectory]) -> list[torch.Tensor]:
        """Each trajectory's raw network output at its current step (rows: uncond+cond when guided)."""

    @torch.inference_mode()
    def denoise(self, batch: list[Trajectory]) -> None:
        """One step for every trajectory in the batch: batched network forward, then each trajectory's
        own guidance and one batched scheduler step (noise from each trajectory's own generator)."""
        advance_batch(batch, self.predict(batch))
