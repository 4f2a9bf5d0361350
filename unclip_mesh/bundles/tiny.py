"""A tiny bundle of RANDOM weights in our layout, written in seconds: for tests and local meshes.

Same architectures and folder layout as a real bundle (open_clip text encoder, PriorTransformer,
UnCLIPTextProjModel, 64 px UNet2DConditionModel decoder, 64->256 super_res_first/last, our 256->1024
PixelShuffleUNet), with widths of 8-32 so a forward pass is fast on CPU. Its images are noise.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
from diffusers import PriorTransformer, UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
from safetensors.torch import save_file

from services.bundle.loader import OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS, Bundle, open_bundle
from services.bundle.manifest import SamplingDefaults
from services.stage_registry import layout
from unclip_mesh.bundles.writer import write_manifest

EMBED_DIM = 32  # CLIP embedding = text width = prior width (as in Karlo: 768 throughout)
CONTEXT_LENGTH = 32
TIME_EMBED_DIM = 64  # decoder block_out_channels[0] * 4
CROSS_ATTENTION_DIM = 32

OPEN_CLIP_TINY = {
    "embed_dim": EMBED_DIM,
    "quick_gelu": False,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {
        "context_length": CONTEXT_LENGTH,
        "vocab_size": 49408,
        "width": EMBED_DIM,
        "heads": 2,
        "layers": 2,
    },
}


# Few steps: the weights are random, so the defaults only need to exercise every code path quickly.
TINY_DEFAULTS = {
    "prior": SamplingDefaults(num_inference_steps=5, guidance_scale=4.0),
    "decoder": SamplingDefaults(num_inference_steps=5, guidance_scale=8.0),
    "upsampler_256": SamplingDefaults(num_inference_steps=3),
    "upsampler_1024": SamplingDefaults(num_inference_steps=3, noise_level=250),
}


def _write_open_clip(folder: Path) -> None:
    from services.text_encoder.open_clip_backend import build_open_clip  # open_clip only when needed

    folder.mkdir(parents=True)
    (folder / OPEN_CLIP_CONFIG).write_text(json.dumps(OPEN_CLIP_TINY, indent=2))
    state = {k: v.contiguous() for k, v in build_open_clip(OPEN_CLIP_TINY).state_dict().items()}
    save_file(state, folder / OPEN_CLIP_WEIGHTS)


def _prior() -> PriorTransformer:
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=16,
        embedding_dim=EMBED_DIM,
        num_layers=1,
        num_embeddings=CONTEXT_LENGTH,
    )
    with torch.no_grad():  # the CLIP statistics start at zero std; give them plausible values
        prior.clip_mean.normal_(0.0, 0.1)
        prior.clip_std.uniform_(0.5, 1.5)
    return prior


def _super_res_256() -> UNet2DModel:
    return UNet2DModel(
        sample_size=256,
        in_channels=6,
        out_channels=3,
        layers_per_block=1,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        add_attention=False,
        down_block_types=("ResnetDownsampleBlock2D",) * 2,
        up_block_types=("ResnetUpsampleBlock2D",) * 2,
    )


class _Savable(Protocol):
    def save_pretrained(self, save_directory: Path) -> None: ...


def _components() -> dict[str, Callable[[], _Savable]]:
    """Folder -> factory of a diffusers component (model or scheduler) with save_pretrained."""
    from services.upsampler.pixel_shuffle_unet import PixelShuffleUNet

    return {
        "prior": _prior,
        "prior_scheduler": lambda: UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="sample", clip_sample_range=5.0
        ),
        "text_proj": lambda: UnCLIPTextProjModel(
            clip_embeddings_dim=EMBED_DIM,
            time_embed_dim=TIME_EMBED_DIM,
            cross_attention_dim=CROSS_ATTENTION_DIM,
        ),
        "decoder": lambda: UNet2DConditionModel(
            sample_size=64,
            in_channels=3,
            out_channels=6,
            layers_per_block=1,
            down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
            up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
            mid_block_type="UNetMidBlock2DSimpleCrossAttn",
            block_out_channels=(16, 32),
            norm_num_groups=8,
            cross_attention_dim=CROSS_ATTENTION_DIM,
            attention_head_dim=8,
            resnet_time_scale_shift="scale_shift",
            class_embed_type="identity",
        ),
        "decoder_scheduler": lambda: UnCLIPScheduler(
            variance_type="learned_range", prediction_type="epsilon"
        ),
        "super_res_first": _super_res_256,
        "super_res_last": _super_res_256,
        "super_res_scheduler": lambda: UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="epsilon"
        ),
        "super_res_1024": lambda: PixelShuffleUNet(
            sample_size=1024,
            in_channels=6,
            out_channels=3,
            shuffle_factor=4,
            block_out_channels=(16, 32),
            layers_per_block=1,
            down_block_types=("ResnetDownsampleBlock2D",) * 2,
            up_block_types=("ResnetUpsampleBlock2D",) * 2,
            norm_num_groups=8,
            noise_level_embedding=True,
        ),
        "super_res_1024_scheduler": lambda: UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="epsilon"
        ),
    }


def write_tiny_bundle(path: str | Path, seed: int = 0) -> Bundle:
    """Write the tiny random bundle to `path` (created; must not exist or be empty) and open it."""
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _write_open_clip(root / "text_encoder")
        for index, (folder, make) in enumerate(_components().items(), start=1):
            torch.manual_seed(seed + index)
            make().save_pretrained(root / folder)
    write_manifest(root, name="tiny-random", version=f"seed-{seed}", stages=layout(), defaults=TINY_DEFAULTS)
    return open_bundle(root)
