"""UpsamplerModel: 64 -> 256 (super_res_first/last, as UnCLIPPipeline) or 256 -> 1024 (PixelShuffleUNet).

The low-res image is upscaled (bicubic, antialiased) and concatenated to the sample at every step; no
guidance. With noise_level > 0 the upscaled image is first noised to that timestep (noise from the
trajectory's generator, after the initial latents) and the level is passed as class conditioning when
the network has a class embedding. noise_level 0 (Karlo bundles) is UnCLIPPipeline's path exactly.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import ModelMixin, UNet2DModel
from diffusers.utils.torch_utils import randn_tensor

from services.bundle.loader import Bundle
from services.diffusion.compute_dtype import image_layout
from services.diffusion.schedulers import noise_augment
from services.diffusion.stage_model import DiffusionStageModel
from services.diffusion.trajectory import Trajectory, batched_forward
from services.stage_registry import upsamplers
from services.upsampler.pixel_shuffle_unet import PixelShuffleUNet

_NETWORKS: dict[str, type[ModelMixin]] = {"UNet2DModel": UNet2DModel, "PixelShuffleUNet": PixelShuffleUNet}


@dataclass
class UpsampleJob:
    image: torch.Tensor  # [B, 3, h, w] in [-1, 1]
    steps: int
    scheduler: str
    generator: torch.Generator  # CPU
    noise_level: int = 0
    latents: torch.Tensor | None = None  # [B, 3, S, S] initial noise; drawn from `generator` when None
    eta: float = 0.0  # DDIM's stochasticity (0: deterministic)


def _load_network(folder: Path, device: str, dtype: torch.dtype) -> ModelMixin:
    class_name = json.loads((folder / "config.json").read_text()).get("_class_name", "UNet2DModel")
    if class_name not in _NETWORKS:
        raise ValueError(f"unsupported upsampler network {class_name!r}")
    network = _NETWORKS[class_name].from_pretrained(folder, torch_dtype=dtype)
    if network.config.get("class_embed_type") == "timestep":
        network.class_embedding.register_forward_pre_hook(_to_weight_dtype)
    return network.to(device, memory_format=image_layout(dtype)).eval()


def _to_weight_dtype(module: torch.nn.Module, args: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """UNet2DModel's "timestep" class embedding gets the float32 sinusoidal projection of the level
    whatever the network's dtype (its time embedding gets a cast; this one does not)."""
    dtype = next(module.parameters()).dtype
    return tuple(a.to(dtype) for a in args)


def _run(
    network: ModelMixin,
    sample: torch.Tensor,
    timesteps: torch.Tensor,
    image: torch.Tensor,
    **conditioning: torch.Tensor,
) -> torch.Tensor:
    return network(sample=torch.cat([sample, image], dim=1), timestep=timesteps, **conditioning).sample


class UpsamplerModel(DiffusionStageModel):
    """The upsamplers' DiffusionModel: `last` runs the final step of every trajectory, `first` the rest."""

    def __init__(
        self, first: ModelMixin, last: ModelMixin, bundle: Bundle, stage: str, device: torch.device
    ) -> None:
        super().__init__(bundle, stage, device)
        self.first = first
        self.last = last
        self.conditions_on_level = getattr(first, "class_embedding", None) is not None

    @classmethod
    def load(
        cls,
        bundle: Bundle,
        stage: str = "upsampler_256",
        device: str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> UpsamplerModel:
        if stage not in upsamplers():
            raise ValueError(f"stage must be one of {upsamplers()}, got {stage!r}")
        bundle.verify(stage)
        first = bundle.load(stage, "first", lambda f: _load_network(f, device, dtype))
        last = first
        if "last" in bundle.roles(stage):
            last = bundle.load(stage, "last", lambda f: _load_network(f, device, dtype))
        return cls(first, last, bundle, stage, torch.device(device))

    @property
    def output_size(self) -> int:
        return self.first.config.sample_size

    @property
    def dtype(self) -> torch.dtype:
        """The networks' compute dtype; the latents are float32 (services/diffusion/compute_dtype.py)."""
        return self.first.dtype

    @torch.inference_mode()
    def start(self, job: UpsampleJob) -> Trajectory:
        rows, size = job.image.shape[0], self.output_size
        trajectory = self.start_job(job, (rows, self.first.config.in_channels // 2, size, size))
        image = F.interpolate(
            job.image.to(self.device, torch.float32),
            size=[size, size],
            mode="bicubic",
            align_corners=False,
            antialias=True,
        )
        if job.noise_level > 0:
            noise = randn_tensor(
                image.shape, generator=job.generator, device=self.device, dtype=torch.float32
            )
            image = noise_augment(self.scheduler_config, image, noise, job.noise_level)
        trajectory.conditioning["image"] = image.to(self.dtype, memory_format=image_layout(self.dtype))
        if self.conditions_on_level:
            trajectory.conditioning["class_labels"] = torch.full(
                (rows,), job.noise_level, dtype=torch.long, device=self.device
            )
        return trajectory

    @torch.inference_mode()
    def predict(self, batch: list[Trajectory]) -> list[torch.Tensor]:
        """One forward per network in use: trajectories on their last step go through `last`."""
        keys = ("image", "class_labels") if self.conditions_on_level else ("image",)
        outputs: dict[int, torch.Tensor] = {}
        for network in {id(n): n for n in (self.first, self.last)}.values():
            members = [i for i, t in enumerate(batch) if self._network(t) is network]
            if members:
                results = batched_forward(
                    [batch[i] for i in members],
                    keys,
                    partial(_run, network),
                    self.dtype,
                    image_layout(self.dtype),
                )
                for i, output in zip(members, results, strict=True):
                    outputs[i] = output
        return [outputs[i] for i in range(len(batch))]

    def _network(self, trajectory: Trajectory) -> ModelMixin:
        return self.last if trajectory.is_last_step else self.first

    @torch.inference_mode()
    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        """The upscaled images [B, 3, S, S] in [-1, 1], float32 on CPU."""
        return trajectory.latents.clamp(-1, 1).float().cpu()
