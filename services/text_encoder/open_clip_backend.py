"""Text encoder folders in open_clip format: `open_clip_config.json` + `open_clip_model.safetensors`.

The config is an open_clip model config dict (embed_dim, vision_cfg, text_cfg, quick_gelu, optional
custom_text and preprocess_cfg), so any CLIP-style open_clip architecture loads; OpenAI CLIP weights need
"quick_gelu": true. Tokenisation is open_clip's SimpleTokenizer (CLIP BPE, padding id 0).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import torch
import torchvision.transforms.v2.functional as TF
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import CLIP, CustomTextCLIP
from open_clip.tokenizer import SimpleTokenizer
from open_clip.transformer import text_global_pool
from safetensors.torch import load_file

from services.bundle.loader import OPEN_CLIP_CONFIG, OPEN_CLIP_WEIGHTS
from services.text_encoder.backend import Tokens

_NOT_CONSTRUCTOR_ARGS = ("preprocess_cfg", "custom_text")


def build_open_clip(config: dict) -> CLIP | CustomTextCLIP:
    """An open_clip model (random weights) from a model config dict."""
    kwargs = {k: v for k, v in config.items() if k not in _NOT_CONSTRUCTOR_ARGS}
    return (CustomTextCLIP if config.get("custom_text") else CLIP)(**kwargs)


class TextTower(Protocol):
    """The parts of an open_clip text tower (TextTransformer, or CLIP itself) that encode_text_tokens runs."""

    token_embedding: torch.nn.Embedding
    positional_embedding: torch.Tensor
    transformer: Callable[..., torch.Tensor]
    ln_final: Callable[[torch.Tensor], torch.Tensor]
    attn_mask: torch.Tensor | None
    text_projection: torch.nn.Linear | torch.Tensor | None


def encode_text_tokens(
    text: TextTower, ids: torch.Tensor, pool_type: str, eos_id: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    """(pooled projected embedding [B, D], token states after ln_final [B, L, W]) of an open_clip text
    tower: the steps of open_clip's encode_text, keeping the token states it discards."""
    x = text.token_embedding(ids) + text.positional_embedding.to(text.token_embedding.weight.dtype)
    x = text.ln_final(text.transformer(x, attn_mask=text.attn_mask))
    pooled = text_global_pool(x, ids, pool_type, eos_token_id=eos_id)
    projection = text.text_projection
    if projection is not None:
        pooled = projection(pooled) if isinstance(projection, torch.nn.Linear) else pooled @ projection
    return pooled, x


class OpenClipBackend:
    """Tokenises and runs an open_clip model; knows nothing about caching or image preprocessing."""

    def __init__(self, model: CLIP | CustomTextCLIP, config: dict) -> None:
        self.model = model
        self.text = getattr(model, "text", model)  # CustomTextCLIP keeps its tower in .text
        self.context_length = int(self.text.context_length)
        self.tokenizer = SimpleTokenizer(context_length=self.context_length)
        self.pool_type = getattr(self.text, "text_pool_type", None) or self.text.pool_type
        self.eos_id = getattr(self.text, "text_eos_id", getattr(self.text, "eos_id", None))
        size = model.visual.image_size
        self.image_size = int(size if isinstance(size, int) else size[0])
        preprocess = config.get("preprocess_cfg", {})
        self.mean = tuple(preprocess.get("mean", OPENAI_DATASET_MEAN))
        self.std = tuple(preprocess.get("std", OPENAI_DATASET_STD))

    @classmethod
    def load(cls, folder: Path, device: torch.device, dtype: torch.dtype) -> OpenClipBackend:
        config = json.loads((folder / OPEN_CLIP_CONFIG).read_text())
        model = build_open_clip(config)
        model.load_state_dict(load_file(folder / OPEN_CLIP_WEIGHTS), strict=True)
        return cls(model.to(device, dtype).eval(), config)

    def tokenize(self, prompts: list[str]) -> Tokens:
        """Token ids padded with 0; a prompt longer than the context is cut and its last token made
        end-of-text, as open_clip's tokenizer does. The mask comes from the lengths, not from the ids:
        '!' is token 0 too."""
        ids = torch.zeros(len(prompts), self.context_length, dtype=torch.long)
        mask = torch.zeros(len(prompts), self.context_length, dtype=torch.bool)
        truncated = []
        for row, prompt in enumerate(prompts):
            tokens = [
                self.tokenizer.sot_token_id,
                *self.tokenizer.encode(prompt),
                self.tokenizer.eot_token_id,
            ]
            truncated.append(len(tokens) > self.context_length)
            if truncated[-1]:
                tokens = tokens[: self.context_length]
                tokens[-1] = self.tokenizer.eot_token_id
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = True
        return Tokens(ids, mask, truncated)

    def encode_tokens(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_text_tokens(self.text, ids, self.pool_type, self.eos_id)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """The centre square (the shorter side, origin rounded down) resized to the image size
        (bicubic, antialiased), mean/std. These folders carry no image processor config: this is the
        project's own rule, the crop the diffusion stages' inputs get too."""
        height, width = images.shape[-2:]
        side = min(height, width)
        pixels = TF.crop(images, (height - side) // 2, (width - side) // 2, side, side)
        pixels = TF.resize(
            pixels,
            [self.image_size, self.image_size],
            interpolation=TF.InterpolationMode.BICUBIC,
            antialias=True,
        )
        return TF.normalize(pixels.to(torch.float32) / 255.0, self.mean, self.std)

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.model.encode_image(pixels)
