"""The cascade in process as the evaluation reads it: float images at every size a request reaches.

The stages run through services/inprocess_cascade.py, so the evaluation draws the images the mesh
draws for the same prompt and seed (same hops, same noise order).
"""

from __future__ import annotations

import torch

from services import stage_registry
from services.inprocess_cascade import InProcessCascade, StageKnobs


def images_by_size(
    cascade: InProcessCascade,
    prompts: list[str],
    seed: int,
    size: int = 64,
    decoder_guidance: float | None = None,
) -> dict[int, torch.Tensor]:
    """Images [B, 3, S, S] in [-1, 1] by side S: the decoder's (64) and, up to `size`, 256 and 1024 px.
    Every stage uses the bundle's default sampling, except the decoder's guidance when given."""
    knobs = {} if decoder_guidance is None else {"decoder": StageKnobs(guidance_scale=decoder_guidance)}
    result = cascade.generate(prompts, size=size, seed=seed, stages=knobs)
    images = (result.intermediates[stage] for stage in stage_registry.stages_for_size(size))
    return {image.shape[-1]: image for image in images}
