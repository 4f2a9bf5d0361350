"""Text encoder folders in transformers' format, as diffusers' unCLIP pipelines save them (Karlo):
text_encoder/ (CLIPTextModelWithProjection) + tokenizer/, optionally image_encoder/
(CLIPVisionModelWithProjection) + feature_extractor/ (CLIPImageProcessor config) for variations.

The weights run in open_clip towers (see transformers_clip); the prompts are tokenised by the
checkpoint's own tokenizer files through transformers' CLIPTokenizer, because a checkpoint may declare
its own special tokens: Karlo's pads with id 0 and declares '!' its pad token, so '!' in a prompt
becomes id 0 and never merges with its neighbours, unlike in plain CLIP BPE.
"""

from __future__ import annotations

from pathlib import Path

import torch
from open_clip.transformer import TextTransformer, VisionTransformer
from transformers import CLIPImageProcessor, CLIPTokenizer

from services.bundle.loader import TRANSFORMERS_WEIGHTS, Bundle, weights_file
from services.text_encoder import transformers_clip
from services.text_encoder.backend import Tokens
from services.text_encoder.open_clip_backend import encode_text_tokens


def load_image_processor(folder: Path) -> CLIPImageProcessor:
    """The checkpoint's own CLIPImageProcessor, so that every key of its config (resize side, resample,
    centre crop, rescale, mean/std) applies exactly as in diffusers' UnCLIPImageVariationPipeline."""
    return CLIPImageProcessor.from_pretrained(folder, local_files_only=True)


def _load_tower(folder: Path, build, rename, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    tower = build(transformers_clip.read_config(folder))
    weights = transformers_clip.read_weights(weights_file(folder, TRANSFORMERS_WEIGHTS))
    tower.load_state_dict(rename(weights), strict=True, assign=True)  # keeps the projections' layout
    return tower.to(device, dtype).eval()


def load_text(folder: Path, device: torch.device, dtype: torch.dtype) -> TextTransformer:
    return _load_tower(
        folder, transformers_clip.build_text_tower, transformers_clip.text_state_dict, device, dtype
    )


def load_vision(folder: Path, device: torch.device, dtype: torch.dtype) -> VisionTransformer:
    return _load_tower(
        folder, transformers_clip.build_vision_tower, transformers_clip.vision_state_dict, device, dtype
    )


def load_tokenizer(folder: Path) -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


class TransformersClipBackend:
    """A ClipBackend over open_clip towers holding transformers CLIP weights."""

    def __init__(
        self,
        text: TextTransformer,
        tokenizer: CLIPTokenizer,
        visual: VisionTransformer | None = None,
        image_processor: CLIPImageProcessor | None = None,
    ) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.visual = visual
        self.context_length = int(text.context_length)
        self.image_size = int(image_processor.crop_size["height"]) if image_processor else None
        self._image_processor = image_processor

    @classmethod
    def load(
        cls, bundle: Bundle, stage: str, device: torch.device, dtype: torch.dtype
    ) -> TransformersClipBackend:
        """Each component through bundle.load, so a failure names that component's file."""
        text = bundle.load(stage, "text_encoder", lambda f: load_text(f, device, dtype))
        tokenizer = bundle.load(stage, "tokenizer", load_tokenizer)
        if "image_encoder" not in bundle.roles(stage):
            return cls(text, tokenizer)
        visual = bundle.load(stage, "image_encoder", lambda f: load_vision(f, device, dtype))
        return cls(text, tokenizer, visual, bundle.load(stage, "feature_extractor", load_image_processor))

    def tokenize(self, prompts: list[str]) -> Tokens:
        """As UnCLIPPipeline tokenises: padded to the context with the tokenizer's pad id, cut to fit
        (the tokenizer keeps end-of-text last), mask from the tokenizer."""
        encoded = self.tokenizer(
            prompts,
            padding="max_length",
            max_length=self.context_length,
            truncation=True,
            return_tensors="pt",
        )
        lengths = [len(ids) for ids in self.tokenizer(prompts, verbose=False).input_ids]
        return Tokens(
            encoded.input_ids, encoded.attention_mask.bool(), [n > self.context_length for n in lengths]
        )

    def encode_tokens(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_text_tokens(self.text, ids, self.text.pool_type, self.text.eos_id)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        assert self._image_processor is not None, "TextEncoderModel checks image_size first"
        return self._image_processor(
            images=list(images), input_data_format="channels_first", return_tensors="pt"
        ).pixel_values

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        assert self.visual is not None, "TextEncoderModel checks image_size first"
        return self.visual(pixels)
