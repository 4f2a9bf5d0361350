"""Images between stages: [-1, 1] floats, or uint8 rounded exactly as diffusers' numpy_to_pil."""

import torch

from services.runtime.errors import InvalidArgument
from unclip.v1 import tensor_pb2

_FLOATS = {
    tensor_pb2.DATA_TYPE_UNSPECIFIED: torch.float32,
    tensor_pb2.DATA_TYPE_FLOAT32: torch.float32,
    tensor_pb2.DATA_TYPE_FLOAT16: torch.float16,
}


def quantize(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] -> uint8 0..255, the reference pipeline's post-processing and rounding."""
    return ((images.float() * 0.5 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8)


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 0..255 or float [-1, 1] -> float32 [-1, 1]."""
    if images.dtype == torch.uint8:
        return images.float() / 127.5 - 1.0
    return images.float()


def check_image_dtype(dtype: tensor_pb2.DataType, field: str) -> None:
    if dtype != tensor_pb2.DATA_TYPE_UINT8 and dtype not in _FLOATS:
        raise InvalidArgument(field, "must be DATA_TYPE_FLOAT32, DATA_TYPE_FLOAT16 or DATA_TYPE_UINT8")


def cast_images(images: torch.Tensor, dtype: tensor_pb2.DataType) -> torch.Tensor:
    """A stage result in the (checked) dtype the caller asked for."""
    if dtype == tensor_pb2.DATA_TYPE_UINT8:
        return quantize(images)
    return images.to(_FLOATS[dtype])
