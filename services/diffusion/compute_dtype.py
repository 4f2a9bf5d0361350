"""Where a stage's compute dtype applies: the network's weights and forward only.

The latents, the scheduler arithmetic and the noise stay float32 (batched_forward casts the sample
in and the prediction out), so sampling is reproducible across dtypes up to the network's rounding.
"""

from __future__ import annotations

import torch


def compute_dtype(name: str) -> torch.dtype:
    """The torch dtype of a --compute-dtype name (float32, bfloat16, float16)."""
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ValueError(f"unknown compute dtype {name!r}")
    return dtype


def image_layout(dtype: torch.dtype) -> torch.memory_format:
    """channels_last for image networks in bfloat16/float16, where it measured faster for every UNet
    of the demo bundle on a CPU with bfloat16 kernels (docs/BENCHMARKS.md); float32 keeps the default
    layout, and with it the float32 results of before."""
    return torch.contiguous_format if dtype == torch.float32 else torch.channels_last
