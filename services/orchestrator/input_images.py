"""Callers' images (PNG or JPEG bytes of any size) as the stages take them.

The text encoder gets the whole image and preprocesses it itself (a checkpoint's own image processor
config, docs/API.md). The diffusion stages get it centre-cropped to a square (the shorter side) and
resized with bicubic filtering to the side they draw; masks follow the same crop.
"""

import io
import warnings

import numpy as np
import torch
from PIL import Image

from services.runtime.errors import InvalidArgument

MAX_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 4096 * 4096


def open_image(encoded: bytes, field: str) -> Image.Image:
    """Decodes PNG/JPEG bytes (any mode), checking their format and size."""
    if not encoded:
        raise InvalidArgument(field, "is required (PNG or JPEG bytes)")
    if len(encoded) > MAX_BYTES:
        raise InvalidArgument(field, f"must be at most {MAX_BYTES // (1024 * 1024)} MB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(encoded))
            if image.format not in ("PNG", "JPEG"):
                raise InvalidArgument(field, f"must be PNG or JPEG, got {image.format}")
            if image.width * image.height > MAX_PIXELS:
                raise InvalidArgument(field, f"must have at most {MAX_PIXELS} pixels")
            image.load()
    except InvalidArgument:
        raise
    except Exception as error:  # any decoder failure is the caller's bad input
        raise InvalidArgument(field, f"cannot be decoded as PNG or JPEG ({type(error).__name__})") from None
    return image


def centre_square(image: Image.Image) -> Image.Image:
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    return image.crop((left, top, left + side, top + side))


def rgb_pixels(image: Image.Image) -> np.ndarray:
    """uint8 [1, H, W, 3], the whole image: what TextEncoderService.EncodeImage takes. Transparency is
    composited onto white, as transformers' image processors convert to RGB."""
    if "A" in image.getbands() or "transparency" in image.info:
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image.convert("RGBA"))
    return np.asarray(image.convert("RGB"))[None].copy()


def as_stage_image(image: Image.Image, side: int) -> torch.Tensor:
    """float32 [1, 3, side, side] in [-1, 1], the centre square: what the diffusion stages take."""
    pixels = np.asarray(centre_square(image).convert("RGB").resize((side, side), Image.Resampling.BICUBIC))
    return torch.from_numpy(pixels.copy()).permute(2, 0, 1)[None].float() / 127.5 - 1.0


def repaint_mask(image: Image.Image, mask: Image.Image | None, field: str) -> Image.Image:
    """An "L" image of the whole image, 255 where pixels are redrawn: white in `mask`, else
    transparent in `image`."""
    if mask is not None:
        if mask.size != image.size:
            raise InvalidArgument(field, f"must have the image's size {image.size}, got {mask.size}")
        marks = mask.convert("L").point(lambda v: 255 if v >= 128 else 0)
    elif "A" in image.getbands():
        marks = image.getchannel("A").point(lambda v: 255 if v < 128 else 0)
    else:
        raise InvalidArgument(field, "is required when the image has no alpha channel")
    if marks.getextrema()[1] == 0:
        raise InvalidArgument(field, "marks no pixel to redraw")
    return marks


def mask_tensor(marks: Image.Image, side: int) -> torch.Tensor:
    """float32 [1, 1, side, side] of the centre square: 1 wherever any covered source pixel is to be
    redrawn."""
    marks = centre_square(marks)
    if marks.width >= side:
        small = marks.resize((side, side), Image.Resampling.BOX)
        return (torch.from_numpy(np.asarray(small).copy()) > 0).float()[None, None]
    large = marks.resize((side, side), Image.Resampling.NEAREST)
    return (torch.from_numpy(np.asarray(large).copy()) > 0).float()[None, None]
