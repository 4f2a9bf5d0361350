"""TextEncoderModel: prompts -> CLIP text embedding + token states + mask; images -> CLIP image embedding."""

from __future__ import annotations

import torch

from services.bundle.loader import OPEN_CLIP_CONFIG, Bundle
from services.diffusion.text import TextTensors
from services.runtime.errors import FailedPrecondition
from services.text_encoder.backend import ClipBackend
from services.text_encoder.open_clip_backend import OpenClipBackend
from services.text_encoder.transformers_backend import TransformersClipBackend

STAGE = "text_encoder"
__all__ = ["STAGE", "TextEncoderModel", "TextTensors"]


def _load_backend(bundle: Bundle, device: torch.device, dtype: torch.dtype) -> ClipBackend:
    """open_clip's format (open_clip_config.json) or transformers' (config.json + tokenizer/)."""
    if (bundle.stage_dir(STAGE, STAGE) / OPEN_CLIP_CONFIG).is_file():
        return bundle.load(STAGE, STAGE, lambda folder: OpenClipBackend.load(folder, device, dtype))
    return TransformersClipBackend.load(bundle, STAGE, device, dtype)


class TextEncoderModel:
    """Runs the bundle's CLIP model. Outputs are float32 on CPU whatever the compute device."""

    def __init__(self, backend: ClipBackend, device: torch.device, dtype: torch.dtype) -> None:
        self.backend = backend
        self.device = device
        self.dtype = dtype
        self._unconditional: TextTensors | None = None

    @classmethod
    def load(
        cls, bundle: Bundle, device: str = "cpu", dtype: torch.dtype = torch.float32
    ) -> TextEncoderModel:
        bundle.verify(STAGE)
        compute = torch.device(device)
        return cls(_load_backend(bundle, compute, dtype), compute, dtype)

    @property
    def context_length(self) -> int:
        return self.backend.context_length

    @property
    def image_size(self) -> int | None:
        return self.backend.image_size

    @torch.inference_mode()
    def encode_text(self, prompts: list[str]) -> tuple[TextTensors, list[bool]]:
        """Encode prompts; also says which were truncated.

        A prompt longer than the context (context_length tokens including start and end) is cut to
        fit, keeping the end-of-text token last as open_clip's tokenizer does, and reported with
        truncated=True rather than rejected: CLIP itself was trained on such cut captions.
        """
        tokens = self.backend.tokenize(prompts)
        embedding, states = self.backend.encode_tokens(tokens.ids.to(self.device))
        return TextTensors(embedding.float().cpu(), states.float().cpu(), tokens.mask), tokens.truncated

    def unconditional(self) -> TextTensors:
        """The empty prompt's encoding (1 row), computed once: the guidance baseline."""
        if self._unconditional is None:
            self._unconditional = self.encode_text([""])[0]
        return self._unconditional

    @torch.inference_mode()
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [B, H, W, 3] -> [B, D], preprocessed as the checkpoint's own preprocessing does."""
        if self.image_size is None:
            raise FailedPrecondition("images: this bundle has no image encoder (image_encoder/)")
        pixels = self.backend.preprocess(images.permute(0, 3, 1, 2).to(self.device))
        return self.backend.encode_pixels(pixels.to(self.dtype)).float().cpu()
