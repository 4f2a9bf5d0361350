"""Stage images ([-1, 1], NCHW) to PNG bytes, with the reference pipeline's rounding."""

import io

import numpy as np
import torch
from PIL import Image

from services.runtime.image_dtype import quantize

PREVIEW_SIDE = 64


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, H, W] in [-1, 1] (or uint8) -> uint8 [B, H, W, 3], rounded as diffusers' numpy_to_pil."""
    if images.dtype != torch.uint8:
        images = quantize(images)
    return images.permute(0, 2, 3, 1).contiguous().numpy()


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def to_pngs(images: torch.Tensor) -> list[bytes]:
    return [png_bytes(p) for p in to_uint8(images)]


def preview_png(images: torch.Tensor) -> bytes:
    """A small PNG of the first image: cheap enough to stream after every stage."""
    image = Image.fromarray(to_uint8(images[:1])[0])
    if image.width > PREVIEW_SIDE:
        image = image.resize((PREVIEW_SIDE, PREVIEW_SIDE), Image.Resampling.BILINEAR)
    return png_bytes(np.asarray(image))
