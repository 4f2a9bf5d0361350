"""What TextEncoderModel needs from a CLIP backend (open_clip folders, transformers folders)."""

from __future__ import annotations

from typing import NamedTuple, Protocol

import torch


class Tokens(NamedTuple):
    ids: torch.Tensor  # [B, L] long, padded with the tokenizer's pad id
    mask: torch.Tensor  # [B, L] bool, True on real tokens (start .. end-of-text), as the tokenizer says
    truncated: list[bool]  # the prompt did not fit the context and was cut


class ClipBackend(Protocol):
    @property
    def context_length(self) -> int: ...
    @property
    def image_size(self) -> int | None:
        """Side of the square the vision tower takes; None without a vision tower."""

    def tokenize(self, prompts: list[str]) -> Tokens: ...

    def encode_tokens(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(pooled projected embedding [B, D], token states after the final layer norm [B, L, W])."""

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, 3, H, W] -> normalised float32 pixels [B, 3, S, S] (resize, centre crop, mean/std)."""

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        """Normalised pixels [B, 3, S, S] -> projected image embedding [B, D]."""
