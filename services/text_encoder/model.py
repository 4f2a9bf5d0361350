"""TextEncoderModel: prompts -> CLIP text embedding + token states + mask; images -> CLIP image embedding."""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF

from services.bundle.loader import OPEN_CLIP_CONFIG, Bundle, BundleError
from services.diffusion.text import TextTensors
from services.text_encoder.open_clip_backend import OpenClipBackend

STAGE = "text_encoder"
__all__ = ["STAGE", "TextEncoderModel", "TextTensors"]


def _load_backend(folder: Path, device: torch.device, dtype: torch.dtype) -> OpenClipBackend:
    """The backend for this folder's format (transformers CLIP folders get their own loader later)."""
    if (folder / OPEN_CLIP_CONFIG).is_file():
        return OpenClipBackend.load(folder, device, dtype)
    raise BundleError(f"{folder.name}/{OPEN_CLIP_CONFIG}: missing (only open_clip text encoders are "
                      f"supported)")


class TextEncoderModel:
    """Runs the bundle's CLIP model. Outputs are float32 on CPU whatever the compute device."""

    def __init__(self, backend: OpenClipBackend, device: torch.device, dtype: torch.dtype) -> None:
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self._unconditional: TextTensors | None = None

    @classmethod
    def load(cls, bundle: Bundle, device: str = "cpu", dtype: torch.dtype = torch.float32
             ) -> TextEncoderModel:
        bundle.verify(STAGE)
        device = torch.device(device)
        backend = bundle.load(STAGE, STAGE, lambda folder: _load_backend(folder, device, dtype))
        return cls(backend, device, dtype)

    @property
    def context_length(self) -> int:
        return self.backend.context_length

    @property
    def image_size(self) -> int:
        return self.backend.image_size

    @torch.inference_mode()
    def encode_text(self, prompts: list[str]) -> tuple[TextTensors, list[bool]]:
        """Encode prompts; also says which were truncated.

        A prompt longer than the context (context_length tokens including start and end) is cut to
        fit, keeping the end-of-text token last as open_clip's tokenizer does, and reported with
        truncated=True rather than rejected: CLIP itself was trained on such cut captions.
        """
        ids, truncated = self.backend.tokenize(prompts)
        embedding, states = self.backend.encode_tokens(ids.to(self.device))
        return TextTensors(embedding.float().cpu(), states.float().cpu(), ids != 0), truncated

    def unconditional(self) -> TextTensors:
        """The empty prompt's encoding (1 row), computed once: the guidance baseline."""
        if self._unconditional is None:
            self._unconditional = self.encode_text([""])[0]
        return self._unconditional

    @torch.inference_mode()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> [B, D]: shortest side resized to the model's image size (bicubic,
        antialiased), centre crop, normalised with the model's mean/std."""
        pixels = images.permute(0, 3, 1, 2).to(self.device)
        pixels = TF.resize(pixels, [self.image_size], interpolation=TF.InterpolationMode.BICUBIC,
                           antialias=True)
        pixels = TF.center_crop(pixels, [self.image_size, self.image_size])
        pixels = TF.normalize(pixels.to(torch.float32) / 255.0, self.backend.mean, self.backend.std)
        return self.backend.encode_pixels(pixels.to(self.dtype)).float().cpu()
