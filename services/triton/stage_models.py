"""A diffusion stage's model with its network forward in Triton (`--model-backend triton`).

The stage's own model class runs unchanged: its network is replaced by RemoteNetwork, which has the
network's config (read from the bundle, no weights loaded) and sends the forward to Triton.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import SimpleNamespace

import torch

from services.bundle.loader import Bundle
from services.runtime.settings import ServerSettings
from services.triton.client import TritonNetwork
from services.triton.networks import network_spec


class RemoteNetwork:
    """Stands in for a diffusers network: `config`, `dtype`, and a call whose output carries the
    prediction under the network's own attribute (`.sample` for a UNet)."""

    dtype = torch.float32

    def __init__(self, config: Mapping, forward: TritonNetwork) -> None:
        self.config = SimpleNamespace(**config)
        self.forward = forward

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor, **conditioning: torch.Tensor):
        output = self.forward(sample, timestep, **conditioning)
        return SimpleNamespace(**{self.forward.spec.output_attribute: output})


def triton_network(stage: str, config: Mapping, settings: ServerSettings) -> TritonNetwork:
    """The stage's network at --triton-url, once Triton says it is ready."""
    if not settings.triton_url:
        raise ValueError("--model-backend triton needs --triton-url (UNCLIP_TRITON_URL)")
    network = TritonNetwork(
        network_spec(stage),
        settings.triton_url,
        settings.triton_model or stage,
        output_channels=config["out_channels"],
        shared_memory=settings.triton_shared_memory == "system",
    )
    network.wait_until_ready()
    return network


def _decoder(bundle: Bundle, settings: ServerSettings):
    from diffusers import UNet2DConditionModel
    from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel

    from services.decoder.model import STAGE, DecoderModel

    bundle.verify(STAGE)
    config = bundle.load(STAGE, "decoder", UNet2DConditionModel.load_config)
    text_proj = bundle.load(STAGE, "text_proj", UnCLIPTextProjModel.from_pretrained)
    network = RemoteNetwork(config, triton_network(STAGE, config, settings))
    return DecoderModel(network, text_proj.to(settings.device).eval(), bundle, torch.device(settings.device))


_BUILDERS = {"decoder": _decoder}


def triton_stage_model(stage: str, bundle: Bundle, settings: ServerSettings):
    """The stage's DiffusionModel with its network in Triton; ValueError for a stage without one."""
    network_spec(stage)  # names the stages that can
    return _BUILDERS[stage](bundle, settings)
