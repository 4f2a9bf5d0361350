"""The world's own detectors: which of the world's backgrounds an image is on, which palette colour
dominates its foreground, and which of the world's shapes that foreground is. All three are exact on
rendered scenes (tests/training/test_detector.py) and read generated images the same way."""

from __future__ import annotations

import functools
import math

import torch

from training.world import BACKGROUNDS, COLOURS, SHAPES, shape_mask

_PALETTE = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
_NAMES = tuple(COLOURS)
_BACKGROUND_PALETTE = torch.tensor(list(BACKGROUNDS.values()), dtype=torch.float32)
_BACKGROUND_NAMES = tuple(BACKGROUNDS)


def _pixels(image: torch.Tensor) -> torch.Tensor:
    """[3, H, W] in [-1, 1] -> RGB in 0..255 units."""
    return (image.float().clamp(-1, 1) + 1) * 127.5


def _border_median(pixels: torch.Tensor) -> torch.Tensor:
    """[3]: the median colour of the border pixels of [3, H, W] pixels, the scene's background."""
    border = torch.cat([pixels[:, 0], pixels[:, -1], pixels[:, :, 0], pixels[:, :, -1]], dim=1)
    return border.median(dim=1).values


def background_colour(image: torch.Tensor) -> str:
    """The world's background nearest the median colour of the border pixels. image: [3, H, W] in [-1, 1]."""
    nearest = torch.cdist(_border_median(_pixels(image))[None], _BACKGROUND_PALETTE).argmin()
    return _BACKGROUND_NAMES[int(nearest)]


def foreground_mask(image: torch.Tensor, threshold: float = 60.0) -> torch.Tensor:
    """[H, W] bool: pixels farther than `threshold` (RGB distance in 0..255 units) from the background,
    the median colour of the border pixels. image: [3, H, W] in [-1, 1]."""
    pixels = _pixels(image)
    return (pixels - _border_median(pixels).view(3, 1, 1)).norm(dim=0) > threshold


def _foreground(image: torch.Tensor, threshold: float, min_fraction: float) -> torch.Tensor | None:
    """The foreground mask, or None when it covers less than `min_fraction` of the image."""
    mask = foreground_mask(image, threshold)
    return mask if mask.sum() >= min_fraction * mask.numel() else None


def dominant_colour(image: torch.Tensor, min_fraction: float = 0.01, threshold: float = 60.0) -> str | None:
    """The palette colour most foreground pixels are nearest to, or None when there is no foreground."""
    mask = _foreground(image, threshold, min_fraction)
    if mask is None:
        return None
    foreground = _pixels(image).permute(1, 2, 0)[mask]
    nearest = torch.cdist(foreground, _PALETTE).argmin(dim=1)
    return _NAMES[int(torch.bincount(nearest, minlength=len(_NAMES)).argmax())]


@functools.cache
def _unit_area(shape: str) -> float:
    """Area of `shape` with radius 1 (in squared radius units), measured on a fine grid."""
    side, radius = 512, 0.25
    return shape_mask(shape, 0.5, 0.5, radius, side).float().mean().item() / radius**2


def _mask_scores(mask: torch.Tensor) -> dict[str, float]:
    side = mask.shape[-1]
    ys, xs = mask.nonzero(as_tuple=True)
    if ys.numel() == 0:
        return dict.fromkeys(SHAPES, 0.0)
    cx, cy = ((xs.float().mean() + 0.5) / side).item(), ((ys.float().mean() + 0.5) / side).item()
    area = mask.float().mean().item()
    scores = {}
    for shape in SHAPES:
        ideal = shape_mask(shape, cx, cy, math.sqrt(area / _unit_area(shape)), side)
        scores[shape] = ((ideal & mask).sum() / (ideal | mask).sum()).item()
    return scores


def shape_scores(image: torch.Tensor, threshold: float = 60.0) -> dict[str, float]:
    """Intersection over union of the foreground with each of the world's shapes, each placed at the
    foreground's centroid and sized to its area (every shape is centred on its centroid)."""
    return _mask_scores(foreground_mask(image, threshold))


def dominant_shape(image: torch.Tensor, min_fraction: float = 0.01, threshold: float = 60.0) -> str | None:
    """The world's shape that best fits the foreground (highest IoU), or None when there is none."""
    mask = _foreground(image, threshold, min_fraction)
    if mask is None:
        return None
    scores = _mask_scores(mask)
    return max(scores, key=scores.get)
