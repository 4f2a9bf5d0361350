"""Text encoder folders in transformers' format, as diffusers' unCLIP pipelines save them (Karlo):
text_encoder/ (CLIPTextModelWithProjection) + tokenizer/, optionally image_encoder/
(CLIPVisionModelWithProjection) + feature_extractor/ (CLIPImageProcessor config) for variations.

The weights run in open_clip towers (see transformers_clip); the prompts are tokenised by the
checkpoint's own tokenizer files through transformers' CLIPTokenizer, because a checkpoint may declare
its own special tokens: Karlo's pads with id 0 and declares '!' its pad token, so '!' in a prompt
becomes id 0 and never merges with its neighbours, unlike in plain CLIP BPE.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.transformer import TextTransformer, VisionTransformer
from transformers import CLIPTokenizer

from services.bundle.loader import FEATURE_EXTRACTOR_CONFIG, TRANSFORMERS_WEIGHTS, Bundle, weights_file
from services.text_encoder import transformers_clip
from services.text_encoder.backend import Tokens
from services.text_encoder.open_clip_backend import encode_text_tokens


@dataclass(frozen=True)
class ImagePreprocess:
    """A CLIPImageProcessor config, applied op for op as transformers' torchvision backend does:
    resize on uint8, crop origin rounded down, mean and std scaled by 255."""

    resize_size: int
    crop_size: int
    mean: tuple[float, ...] = tuple(OPENAI_DATASET_MEAN)
    std: tuple[float, ...] = tuple(OPENAI_DATASET_STD)

    @classmethod
    def read(cls, folder: Path) -> ImagePreprocess:
        config = json.loads((folder / FEATURE_EXTRACTOR_CONFIG).read_text())

        def side(value, key: str) -> int:  # older configs store a plain int
            return int(value[key] if isinstance(value, dict) else value)
        return cls(side(config["size"], "shortest_edge"), side(config["crop_size"], "height"),
                   tuple(config.get("image_mean", OPENAI_DATASET_MEAN)),
                   tuple(config.get("image_std", OPENAI_DATASET_STD)))

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        pixels = TF.resize(images, [self.resize_size], interpolation=TF.InterpolationMode.BICUBIC,
                           antialias=True)
        height, width = pixels.shape[-2:]
        side = self.crop_size
        pixels = TF.crop(pixels, int((height - side) / 2), int((width - side) / 2), side, side)
        return TF.normalize(pixels.to(torch.float32), torch.tensor(self.mean) * 255.0,
                            torch.tensor(self.std) * 255.0)


def _load_tower(folder: Path, build, rename, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
    tower = build(transformers_clip.read_config(folder))
    weights = transformers_clip.read_weights(weights_file(folder, TRANSFORMERS_WEIGHTS))
    tower.load_state_dict(rename(weights), strict=True, assign=True)  # keeps the projections' layout
    return tower.to(device, dtype).eval()


def load_text(folder: Path, device: torch.device, dtype: torch.dtype) -> TextTransformer:
    return _load_tower(folder, transformers_clip.build_text_tower, transformers_clip.text_state_dict,
                       device, dtype)


def load_vision(folder: Path, device: torch.device, dtype: torch.dtype) -> VisionTransformer:
    return _load_tower(folder, transformers_clip.build_vision_tower, transformers_clip.vision_state_dict,
                       device, dtype)


def load_tokenizer(folder: Path) -> CLIPTokenizer:
    return CLIPTokenizer.from_pretrained(folder, local_files_only=True)


class TransformersClipBackend:
    """A ClipBackend over open_clip towers holding transformers CLIP weights."""

    def __init__(self, text: TextTransformer, tokenizer: CLIPTokenizer,
                 visual: VisionTransformer | None = None, preprocess: ImagePreprocess | None = None) -> None:
        self.text = text
        self.tokenizer = tokenizer
        self.visual = visual
        self.context_length = int(text.context_length)
        self.image_size = preprocess.crop_size if preprocess else None
        self._preprocess = preprocess

    @classmethod
    def load(cls, bundle: Bundle, stage: str, device: torch.device, dtype: torch.dtype
             ) -> TransformersClipBackend:
        """Each component through bundle.load, so a failure names that component's file."""
        text = bundle.load(stage, "text_encoder", lambda f: load_text(f, device, dtype))
        tokenizer = bundle.load(stage, "tokenizer", load_tokenizer)
        if "image_encoder" not in bundle.roles(stage):
            return cls(text, tokenizer)
        visual = bundle.load(stage, "image_encoder", lambda f: load_vision(f, device, dtype))
        return cls(text, tokenizer, visual, bundle.load(stage, "feature_extractor", ImagePreprocess.read))

    def tokenize(self, prompts: list[str]) -> Tokens:
        """As UnCLIPPipeline tokenises: padded to the context with the tokenizer's pad id, cut to fit
        (the tokenizer keeps end-of-text last), mask from the tokenizer."""
        encoded = self.tokenizer(prompts, padding="max_length", max_length=self.context_length,
                                 truncation=True, return_tensors="pt")
        lengths = [len(ids) for ids in self.tokenizer(prompts, verbose=False).input_ids]
        return Tokens(encoded.input_ids, encoded.attention_mask.bool(),
                      [n > self.context_length for n in lengths])

    def encode_tokens(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return encode_text_tokens(self.text, ids, self.text.pool_type, self.text.eos_id)

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        return self._preprocess(images)

    def encode_pixels(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.visual(pixels)
