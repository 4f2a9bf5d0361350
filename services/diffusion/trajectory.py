"""Trajectory: one request's sampling loop inside one diffusion stage, advanced one step at a time."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch
from diffusers import SchedulerMixin
from diffusers.utils.torch_utils import randn_tensor

from services.diffusion.batched_step import RowStep, batched_step, same_step, vectorised
from services.diffusion.schedulers import build_scheduler, scheduler_step


@dataclass(eq=False)
class Trajectory:
    """State of one sampling loop. `conditioning` holds per-row network inputs other than the sample
    and timestep; for a guided trajectory its rows are [unconditional; conditional] (2x the latents'
    rows), in UnCLIPPipeline's order."""

    latents: torch.Tensor
    scheduler: SchedulerMixin
    timesteps: torch.Tensor
    generator: torch.Generator
    guidance_scale: float = 1.0
    eta: float = 0.0  # DDIM's stochasticity
    conditioning: dict[str, torch.Tensor] = field(default_factory=dict)
    step: int = 0

    @property
    def guided(self) -> bool:
        return self.guidance_scale > 1.0

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    @property
    def total_steps(self) -> int:
        return int(self.timesteps.shape[0])

    @property
    def is_last_step(self) -> bool:
        return self.step == self.total_steps - 1

    @property
    def timestep(self) -> torch.Tensor:
        return self.timesteps[self.step]

    @property
    def prev_timestep(self) -> torch.Tensor | None:
        """The next timestep of the schedule, None on the last step (as UnCLIPPipeline passes it)."""
        return None if self.is_last_step else self.timesteps[self.step + 1]

    @property
    def rows(self) -> int:
        """Rows this trajectory contributes to a batched network forward."""
        return self.latents.shape[0] * (2 if self.guided else 1)

    def guide(self, output: torch.Tensor) -> torch.Tensor:
        """Classifier-free guidance on the mean channels; a learned variance comes from the text half."""
        if not self.guided:
            return output
        uncond, text = output.chunk(2)
        return _classifier_free(uncond, text, self.guidance_scale, self.latents.shape[1])

    def advance(self, output: torch.Tensor) -> None:
        """Guidance, then this trajectory's scheduler step (drawing noise from its generator)."""
        self.latents = scheduler_step(
            self.scheduler,
            self.guide(output),
            self.timestep,
            self.latents,
            self.prev_timestep,
            self.generator,
            self.eta,
        )
        self.step += 1

    def row_step(self) -> RowStep:
        """This trajectory's part of a batched scheduler step."""
        prev = self.prev_timestep
        return RowStep(
            self.scheduler,
            self.latents.shape[0],
            int(self.timestep),
            None if prev is None else int(prev),
            self.generator,
            self.eta,
        )


def _classifier_free(
    uncond: torch.Tensor, text: torch.Tensor, scale: float | torch.Tensor, channels: int, dim: int = 1
) -> torch.Tensor:
    """Guidance on the first `channels` of dimension `dim` (the mean); the rest (a learned variance)
    comes from the text half."""
    uncond_mean = uncond.narrow(dim, 0, channels)
    text_mean, variance = (
        text.narrow(dim, 0, channels),
        text.narrow(dim, channels, text.shape[dim] - channels),
    )
    guided = uncond_mean + scale * (text_mean - uncond_mean)
    return torch.cat([guided, variance], dim=dim) if variance.shape[dim] else guided


def advance_batch(batch: list[Trajectory], outputs: list[torch.Tensor]) -> None:
    """Trajectory.advance for each of the batch, with one vectorised guidance and scheduler step per group
    of trajectories sharing a scheduler class and config (services.diffusion.batched_step). A trajectory
    whose class extends `advance`, or whose scheduler has no vectorised step, advances alone."""
    groups: list[list[tuple[Trajectory, torch.Tensor]]] = []
    for trajectory, output in zip(batch, outputs, strict=True):
        if type(trajectory).advance is not Trajectory.advance or not vectorised(trajectory.scheduler):
            trajectory.advance(output)
            continue
        group = next((g for g in groups if same_step(g[0][0].scheduler, trajectory.scheduler)), None)
        if group is None:
            groups.append(group := [])
        group.append((trajectory, output))
    for group in groups:
        group.sort(key=lambda item: not item[0].guided)  # the guided first: their rows are guided together
        members = [trajectory for trajectory, _ in group]
        output = _guide_rows(members, _joined([output for _, output in group]))
        latents = batched_step(
            [t.row_step() for t in members], output, torch.cat([t.latents for t in members])
        )
        for trajectory, rows in zip(
            members, latents.split([t.latents.shape[0] for t in members]), strict=True
        ):
            trajectory.latents = rows
            trajectory.step += 1


def _joined(outputs: list[torch.Tensor]) -> torch.Tensor:
    """The outputs concatenated; without a copy when they lie one after the other in one storage (the
    batched forward's output split per trajectory: views that inference mode does not mark as such)."""
    first = outputs[0]
    rest = first.shape[1:]
    if all(
        output.is_contiguous()
        and output.shape[1:] == rest
        and output.dtype == first.dtype
        and output.untyped_storage().data_ptr() == first.untyped_storage().data_ptr()
        for output in outputs
    ) and all(
        later.data_ptr() == earlier.data_ptr() + earlier.numel() * earlier.element_size()
        for earlier, later in itertools.pairwise(outputs)
    ):
        rows = sum(output.shape[0] for output in outputs)
        return first.as_strided((rows, *rest), torch.empty(0, *rest).stride(), first.storage_offset())
    return torch.cat(outputs)


def _guide_rows(members: list[Trajectory], output: torch.Tensor) -> torch.Tensor:
    """Trajectory.guide of every member at once; `output` holds their rows in order, the guided first."""
    guided_members = [trajectory for trajectory in members if trajectory.guided]
    if not guided_members:
        return output
    channels = members[0].latents.shape[1]
    rows = [trajectory.latents.shape[0] for trajectory in guided_members]
    start = 2 * sum(rows)
    if len(set(rows)) == 1:
        # every guided member has the same rows: its [uncond; text] halves are strided views
        pairs = output[:start].reshape(len(rows), 2, rows[0], *output.shape[1:])
        scale = _on_device([t.guidance_scale for t in guided_members], output, pairs.dim() - 1)
        guided = _classifier_free(pairs[:, 0], pairs[:, 1], scale, channels, dim=2).flatten(0, 1)
    else:
        uncond: list[int] = []
        text: list[int] = []
        scales: list[float] = []
        first = 0
        for trajectory, count in zip(guided_members, rows, strict=True):
            uncond += range(first, first + count)
            text += range(first + count, first + 2 * count)
            scales += [trajectory.guidance_scale] * count
            first += 2 * count
        unguided, texted = output.index_select(0, torch.tensor(uncond + text, device=output.device)).chunk(2)
        guided = _classifier_free(unguided, texted, _on_device(scales, output, output.dim()), channels)
    return torch.cat([guided, output[start:]]) if start < output.shape[0] else guided


def _on_device(values: list[float], like: torch.Tensor, dims: int) -> torch.Tensor:
    """Per-row values shaped [rows, 1, ...] to broadcast over a tensor of `dims` dimensions like `like`."""
    return torch.tensor(values, dtype=like.dtype).to(like.device).view(-1, *[1] * (dims - 1))


def start_trajectory(
    *,
    shape: tuple[int, ...],
    scheduler_name: str,
    scheduler_config: Mapping,
    steps: int,
    generator: torch.Generator,
    device: torch.device,
    guidance_scale: float = 1.0,
    eta: float = 0.0,
    latents: torch.Tensor | None = None,
    conditioning: dict[str, torch.Tensor] | None = None,
) -> Trajectory:
    """Set the timesteps and draw the initial noise exactly as UnCLIPPipeline.prepare_latents does
    (float32 whatever the network's dtype: the latents and the scheduler's arithmetic stay float32)."""
    scheduler = build_scheduler(scheduler_name, scheduler_config)
    scheduler.set_timesteps(steps, device="cpu")
    if latents is None:
        latents = randn_tensor(shape, generator=generator, device=device, dtype=torch.float32)
    elif tuple(latents.shape) != tuple(shape):
        raise ValueError(f"latents: expected shape {tuple(shape)}, got {tuple(latents.shape)}")
    latents = latents.to(device, torch.float32) * scheduler.init_noise_sigma
    return Trajectory(
        latents=latents,
        scheduler=scheduler,
        timesteps=scheduler.timesteps,
        generator=generator,
        guidance_scale=guidance_scale,
        eta=eta,
        conditioning=conditioning or {},
    )


def batched_forward(
    batch: list[Trajectory],
    keys: tuple[str, ...],
    forward,
    dtype: torch.dtype,
    layout: torch.memory_format = torch.preserve_format,
) -> list[torch.Tensor]:
    """Concatenate the batch's inputs (per-row timesteps), run `forward(sample, timesteps, **cond)` once
    on the sample cast to the network's dtype and layout, and split the output back per trajectory,
    float32 and contiguous like the latents. The conditioning is already in the network's dtype (each
    stage's start() puts it there)."""
    sample = torch.cat([latents for t in batch for latents in [t.latents] * (2 if t.guided else 1)])
    sample = sample.to(dtype=dtype, memory_format=layout)
    timesteps = torch.tensor([int(t.timestep) for t in batch for _ in range(t.rows)]).to(sample.device)
    conditioning = {k: torch.cat([t.conditioning[k] for t in batch]) for k in keys}
    output = forward(sample, timesteps, **conditioning)
    output = output.to(torch.float32, memory_format=torch.contiguous_format)
    return list(output.split([t.rows for t in batch]))
