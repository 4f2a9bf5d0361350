"""PixelShuffleUNet: our 256 -> 1024 upsampler network, a UNet2DModel run at 1/factor spatial size.

pixel_unshuffle folds each factor x factor patch into channels, so a 1024 px step costs what a 256 px
step with factor^2 more channels costs; pixel_shuffle unfolds the prediction. With
noise_level_embedding the noise-augmentation level (class_labels) is embedded like a timestep and added
to the time embedding; the embedding is ours rather than UNet2DModel's "timestep" class embedding, which
feeds a float32 projection into a float16 layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import ModelMixin, UNet2DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.embeddings import TimestepEmbedding
from diffusers.models.unets.unet_2d import UNet2DOutput


class PixelShuffleUNet(ModelMixin, ConfigMixin):
    @register_to_config
    def __init__(
        self,
        sample_size: int = 1024,
        in_channels: int = 6,
        out_channels: int = 3,
        shuffle_factor: int = 4,
        block_out_channels: tuple[int, ...] = (64, 128, 256),
        layers_per_block: int = 2,
        down_block_types: tuple[str, ...] = ("ResnetDownsampleBlock2D",) * 3,
        up_block_types: tuple[str, ...] = ("ResnetUpsampleBlock2D",) * 3,
        norm_num_groups: int = 32,
        noise_level_embedding: bool = False,
        add_attention: bool = False,
        resnet_time_scale_shift: str = "scale_shift",
    ) -> None:
        super().__init__()
        if sample_size % shuffle_factor:
            raise ValueError(
                f"sample_size {sample_size} is not a multiple of shuffle_factor {shuffle_factor}"
            )
        folded = shuffle_factor * shuffle_factor
        self.unet = UNet2DModel(
            sample_size=sample_size // shuffle_factor,
            in_channels=in_channels * folded,
            out_channels=out_channels * folded,
            block_out_channels=tuple(block_out_channels),
            layers_per_block=layers_per_block,
            down_block_types=tuple(down_block_types),
            up_block_types=tuple(up_block_types),
            norm_num_groups=norm_num_groups,
            class_embed_type="identity" if noise_level_embedding else None,
            add_attention=add_attention,
            resnet_time_scale_shift=resnet_time_scale_shift,
        )
        width = block_out_channels[0]
        self.level_embedding = TimestepEmbedding(width, width * 4) if noise_level_embedding else None

    @property
    def class_embedding(self) -> torch.nn.Module | None:
        return self.level_embedding

    def forward(
        self,
        sample: torch.Tensor,
        timestep: torch.Tensor | int,
        class_labels: torch.Tensor | None = None,
        return_dict: bool = True,
    ) -> UNet2DOutput | tuple[torch.Tensor]:
        factor = self.config.shuffle_factor
        if class_labels is not None:
            if self.level_embedding is None:
                raise ValueError("class_labels need a network built with noise_level_embedding")
            levels = class_labels.expand(sample.shape[0]) if class_labels.ndim == 0 else class_labels
            class_labels = self.level_embedding(self.unet.time_proj(levels).to(self.dtype))
        folded = self.unet(F.pixel_unshuffle(sample, factor), timestep, class_labels=class_labels).sample
        output = F.pixel_shuffle(folded, factor)
        return UNet2DOutput(sample=output) if return_dict else (output,)
