"""TextTensors: the text encoder's output as the prior and decoder consume it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


@dataclass(frozen=True)
class TextTensors:
    text_embedding: torch.Tensor  # [B, D] pooled, projected CLIP text embedding
    token_states: torch.Tensor  # [B, L, W] per-token states after the final layer norm
    attention_mask: torch.Tensor  # [B, L] bool, True where the token id is not padding

    def __len__(self) -> int:
        return self.text_embedding.shape[0]

    def expand(self, rows: int) -> TextTensors:
        """Repeat a 1-row encoding (the unconditional one) to `rows` rows."""
        if len(self) == rows:
            return self
        if len(self) != 1:
            raise ValueError(f"cannot expand {len(self)} rows to {rows}")
        return TextTensors(
            self.text_embedding.expand(rows, -1),
            self.token_states.expand(rows, -1, -1),
            self.attention_mask.expand(rows, -1),
        )

    def to(self, device: torch.device | str, dtype: torch.dtype) -> TextTensors:
        return TextTensors(
            self.text_embedding.to(device, dtype),
            self.token_states.to(device, dtype),
            self.attention_mask.to(device, torch.bool),
        )

    @staticmethod
    def cat(parts: list[TextTensors]) -> TextTensors:
        return TextTensors(
            torch.cat([p.text_embedding for p in parts]),
            torch.cat([p.token_states for p in parts]),
            torch.cat([p.attention_mask for p in parts]),
        )


class ProjectsText(Protocol):
    """A network that projects CLIP's text conditioning (UnCLIPTextProjModel, PriorTransformer)."""

    embedding_proj: torch.nn.Linear
    encoder_hidden_states_proj: torch.nn.Linear


def projection_widths(network: ProjectsText) -> dict[str, int]:
    """The text conditioning widths a network projects from (UnCLIPTextProjModel, PriorTransformer):
    the CLIP embedding's and the token states'."""
    return {
        "embedding_dim": network.embedding_proj.in_features,
        "token_width": network.encoder_hidden_states_proj.in_features,
    }
