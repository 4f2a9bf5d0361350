"""The cascade, defined once: which stages a flow runs before the decoder, and in which dtype each image
hop travels. The orchestrator's chain (services/orchestrator/), the in-process cascade
(services/inprocess_cascade.py) and the evaluation (training/, through the in-process cascade) all
follow it, so for the same request and seed they draw the same images.
"""

import torch

from services import stage_registry
from services.runtime.image_dtype import cast_images, to_float
from unclip.v1 import tensor_pb2


def conditioning_stages(prompted: bool = True) -> tuple[str, ...]:
    """The stages a flow runs before the decoder: every stage that makes no image (the text encoder,
    then the prior) for a text prompt; the encoder alone where the flow starts from an image, whose
    CLIP image embedding the decoder takes as it is."""
    stages = tuple(name for name in stage_registry.model_stages() if not stage_registry.get(name).output_size)
    return stages if prompted else stages[:1]


def hop_dtype(stage: str, stages: tuple[str, ...]) -> tensor_pb2.DataType:
    """The wire dtype of `stage`'s images on a chain of image `stages`: uint8 from the last (the
    caller's pixels), float32 out of the decoder (64 px: exact and small), float16 between upsamplers
    (a quarter of the 256 px hop's bytes; the 1024 stage adds its own noise far above float16's step)."""
    if stage == stages[-1]:
        return tensor_pb2.DATA_TYPE_UINT8
    return tensor_pb2.DATA_TYPE_FLOAT32 if stage == stages[0] else tensor_pb2.DATA_TYPE_FLOAT16


def through_wire(images: torch.Tensor, dtype: tensor_pb2.DataType) -> torch.Tensor:
    """Images as the next stage receives them after a hop in `dtype` (float32 [-1, 1])."""
    return to_float(cast_images(images, dtype))
