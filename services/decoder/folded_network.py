"""A decoder network that works on pixels folded into channels (pixel_unshuffle), as a 64 px network.

The decoder draws RGB images, so a UNet whose input has 3 x f^2 channels is one that runs at 1/f of
the image's side: each f x f patch of the image is one position with 3 f^2 channels. On a CPU that
costs far less per sample than a narrow UNet at full size (the demo bundle's decoder: 16 px, 48
channels, f = 4). The fold is read off the network's own config, so a bundle needs nothing else, and
a network Triton hosts is the plain UNet (the stage folds and unfolds around the call).
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import torch
import torch.nn.functional as F

IMAGE_CHANNELS = 3


def fold_factor(in_channels: int) -> int:
    """f for a network with `in_channels` = 3 f^2 input channels; ValueError for any other count."""
    factor = math.isqrt(in_channels // IMAGE_CHANNELS)
    if factor < 1 or IMAGE_CHANNELS * factor * factor != in_channels:
        raise ValueError(
            f"a decoder network takes 3 x f^2 input channels (RGB folded f x f), not {in_channels}"
        )
    return factor


class FoldedNetwork:
    """Stands in for the decoder UNet: `config.sample_size` / `config.in_channels` are the image's,
    and a call folds the sample, runs the network and unfolds its prediction (`.sample`)."""

    def __init__(self, network, factor: int) -> None:
        self.network = network
        self.factor = factor
        self.config = SimpleNamespace(
            sample_size=network.config.sample_size * factor, in_channels=IMAGE_CHANNELS
        )

    @property
    def dtype(self) -> torch.dtype:
        return self.network.dtype

    def __call__(self, sample: torch.Tensor, timestep: torch.Tensor, **conditioning: torch.Tensor):
        folded = self.network(
            sample=F.pixel_unshuffle(sample, self.factor), timestep=timestep, **conditioning
        ).sample
        return SimpleNamespace(sample=F.pixel_shuffle(folded, self.factor))


def unfolded(network):
    """The network as the decoder calls it: wrapped in FoldedNetwork when its input is folded."""
    factor = fold_factor(network.config.in_channels)
    return network if factor == 1 else FoldedNetwork(network, factor)
