"""Uploaded images and masks, checked as the Images API checks them and turned into the mesh's form.

The API's images are square PNGs. Its edit mask is a PNG of the image's size whose transparent
pixels mark the region to redraw; without a mask, the image's own transparent pixels do. The mesh's
InpaintImage takes a mask whose white pixels are redrawn, so the mask's alpha becomes that
(transparent = alpha below 128, the rule the mesh applies to an image's own alpha).
"""

import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from services.gateway.errors import bad_param

TRANSPARENT_BELOW = 128


def _open_png(data: bytes, param: str) -> Image.Image:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError):
        raise bad_param(param, "must be a valid PNG file") from None
    if image.format != "PNG":
        raise bad_param(param, f"must be a PNG file, not {image.format}")
    return image


def _alpha(image: Image.Image) -> np.ndarray | None:
    """The alpha channel, or None when the image has none."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        return np.asarray(image.convert("RGBA"))[..., 3]
    return None


def square_png(data: bytes, param: str = "image") -> Image.Image:
    image = _open_png(data, param)
    if image.width != image.height:
        raise bad_param(param, f"must be square, got {image.width}x{image.height}")
    return image


def edit_mask(image_data: bytes, mask_data: bytes | None) -> bytes | None:
    """The mesh's mask PNG (white = redraw) for an API edit; None lets the mesh read the image's
    own alpha, which then must exist."""
    image = square_png(image_data)
    if mask_data is None:
        if _alpha(image) is None:
            raise bad_param("image", "must have transparent pixels to edit when no mask is given")
        return None
    mask = _open_png(mask_data, "mask")
    if mask.size != image.size:
        raise bad_param(
            "mask", f"must be the image's size {image.width}x{image.height}, got {mask.width}x{mask.height}"
        )
    alpha = _alpha(mask)
    if alpha is None:
        raise bad_param("mask", "must have an alpha channel: its transparent pixels mark the edit")
    out = io.BytesIO()
    redrawn = np.where(alpha < TRANSPARENT_BELOW, 255, 0).astype(np.uint8)
    Image.fromarray(redrawn, "L").save(out, "PNG")
    return out.getvalue()
