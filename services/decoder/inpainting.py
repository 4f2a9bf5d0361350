"""Decoder inpainting by replacement: after every step the known region is put back, noised to the
level of the next step, so the drawn region grows to agree with it (the known pixels are kept
exactly at the end)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from diffusers.utils.torch_utils import randn_tensor

from services.diffusion.trajectory import Trajectory


@dataclass(eq=False)
class InpaintingTrajectory(Trajectory):
    known: torch.Tensor = field(kw_only=True)  # [B, 3, S, S] in [-1, 1]
    repaint_mask: torch.Tensor = field(kw_only=True)  # [B, 1, S, S], 1 = draw anew

    @classmethod
    def wrap(
        cls, trajectory: Trajectory, known: torch.Tensor, repaint_mask: torch.Tensor
    ) -> InpaintingTrajectory:
        fields = {name: getattr(trajectory, name) for name in trajectory.__dataclass_fields__}
        device, dtype = trajectory.latents.device, trajectory.latents.dtype
        return cls(**fields, known=known.to(device, dtype), repaint_mask=repaint_mask.to(device, dtype))

    def advance(self, output: torch.Tensor) -> None:
        next_timestep = self.prev_timestep
        super().advance(output)
        if next_timestep is None:
            known = self.known
        else:
            noise = randn_tensor(
                self.known.shape, generator=self.generator, device=self.known.device, dtype=self.known.dtype
            )
            known = self.scheduler.add_noise(self.known, noise, next_timestep.reshape(1))
        self.latents = self.repaint_mask * self.latents + (1 - self.repaint_mask) * known
