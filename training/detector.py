"""The world's own colour detector: which palette colour dominates an image's foreground."""

from __future__ import annotations

import torch

from training.world import COLOURS

_PALETTE = torch.tensor(list(COLOURS.values()), dtype=torch.float32)
_NAMES = tuple(COLOURS)


def dominant_colour(image: torch.Tensor, min_fraction: float = 0.01, threshold: float = 60.0) -> str | None:
    """The palette colour most foreground pixels are nearest to, or None when there is no foreground.

    image: [3, H, W] in [-1, 1]. The background is the median colour of the border pixels; foreground
    pixels differ from it by more than `threshold` (RGB distance in 0..255 units).
    """
    pixels = ((image.float().clamp(-1, 1) + 1) * 127.5).reshape(3, -1).T
    side = image.shape[-1]
    border = torch.cat([image[:, 0], image[:, -1], image[:, :, 0], image[:, :, -1]], dim=1)
    background = ((border.float().clamp(-1, 1) + 1) * 127.5).median(dim=1).values
    foreground = pixels[(pixels - background).norm(dim=1) > threshold]
    if foreground.shape[0] < min_fraction * side * side:
        return None
    nearest = torch.cdist(foreground, _PALETTE).argmin(dim=1)
    return _NAMES[int(torch.bincount(nearest, minlength=len(_NAMES)).argmax())]
