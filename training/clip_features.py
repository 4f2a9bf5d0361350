"""A frozen CLIP from a trained text_encoder folder, encoding exactly as the text encoder service does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF

from services.diffusion.text import TextTensors
from services.text_encoder.open_clip_backend import OpenClipBackend
from training import world


@dataclass
class FrozenClip:
    backend: OpenClipBackend

    @classmethod
    def load(cls, folder: Path, device: torch.device) -> FrozenClip:
        backend = OpenClipBackend.load(Path(folder), device, torch.float32)
        backend.model.requires_grad_(False)
        return cls(backend)

    @property
    def device(self) -> torch.device:
        return self.backend.model.logit_scale.device

    @torch.no_grad()
    def text(self, prompts: list[str]) -> TextTensors:
        tokens = self.backend.tokenize(prompts)
        embedding, states = self.backend.encode_tokens(tokens.ids.to(self.device))
        return TextTensors(embedding, states, tokens.mask.to(self.device))

    @torch.no_grad()
    def images(self, images: torch.Tensor) -> torch.Tensor:
        """Image embeddings [B, D] of images [B, 3, S, S] in [-1, 1] at the model's image size."""
        pixels = TF.normalize((images.to(self.device) + 1) / 2, self.backend.mean, self.backend.std)
        return self.backend.encode_pixels(pixels)


def drop_text(text: TextTensors, empty: TextTensors, drop: torch.Tensor) -> TextTensors:
    """Rows where `drop` is True get the empty prompt's encoding (classifier-free guidance training)."""
    empty = empty.expand(len(text))

    def pick(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.where(drop.view(-1, *[1] * (a.dim() - 1)).to(a.device), b, a)

    return TextTensors(
        pick(text.text_embedding, empty.text_embedding),
        pick(text.token_states, empty.token_states),
        pick(text.attention_mask, empty.attention_mask),
    )


@torch.no_grad()
def embedding_statistics(clip: FrozenClip, samples: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean and std [1, D] of the image embeddings of `samples` training scenes."""
    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.cat(
        [
            clip.images(
                world.render(world.sample_scenes(256, generator), clip.backend.image_size, device=clip.device)
            )
            for _ in range(max(1, samples // 256))
        ]
    )
    return embeddings.mean(0, keepdim=True), embeddings.std(0, keepdim=True)
