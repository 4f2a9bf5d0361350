"""unclip.v1.Tensor <-> torch.Tensor: raw little-endian C-order bytes, checked before use.

Decoding validates the message without copying (a read-only numpy view over the bytes) and then
makes exactly one copy into a writable, native-endian tensor: the protobuf bytes are immutable and
shared with the message, so a tensor over them in place could not be written safely. With a
SharedMemory (services/runtime/shared_memory.py) large tensors travel as a region's name instead,
and the one copy is the read out of the region.
"""

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from services.runtime.errors import InvalidArgument
from services.runtime.shared_memory import SharedMemory
from unclip.v1 import tensor_pb2

_MAX_RANK = 32
_INT64_MAX = 2**63 - 1
_BFLOAT16_EXPONENT = 0x7F80  # all exponent bits set: Inf or NaN
_TorchDtype = torch.dtype  # inside _Codec, `torch` names its field


@dataclass(frozen=True)
class _Codec:
    """How one wire dtype is carried: `carrier` is the torch dtype whose bytes numpy can read."""

    wire: tensor_pb2.DataType
    torch: _TorchDtype
    carrier: _TorchDtype
    numpy: np.dtype  # little-endian element type of the wire bytes

    @property
    def name(self) -> str:
        return tensor_pb2.DataType.Name(self.wire)


_CODECS = (
    _Codec(tensor_pb2.DATA_TYPE_FLOAT32, torch.float32, torch.float32, np.dtype("<f4")),
    _Codec(tensor_pb2.DATA_TYPE_FLOAT16, torch.float16, torch.float16, np.dtype("<f2")),
    _Codec(tensor_pb2.DATA_TYPE_BFLOAT16, torch.bfloat16, torch.int16, np.dtype("<i2")),
    _Codec(tensor_pb2.DATA_TYPE_UINT8, torch.uint8, torch.uint8, np.dtype("u1")),
    _Codec(tensor_pb2.DATA_TYPE_INT32, torch.int32, torch.int32, np.dtype("<i4")),
    _Codec(tensor_pb2.DATA_TYPE_INT64, torch.int64, torch.int64, np.dtype("<i8")),
    _Codec(tensor_pb2.DATA_TYPE_BOOL, torch.bool, torch.uint8, np.dtype("u1")),
)
_BY_WIRE = {c.wire: c for c in _CODECS}
_BY_TORCH = {c.torch: c for c in _CODECS}


def to_proto(t: torch.Tensor | np.ndarray, shared: SharedMemory | None = None) -> tensor_pb2.Tensor:
    """Encodes a tensor or array of a supported dtype (any device, any strides); with `shared`, one
    large enough to pay for it goes into a new shared-memory region (the caller of the RPC removes it)."""
    if isinstance(t, np.ndarray):
        t = torch.from_numpy(np.ascontiguousarray(t, dtype=t.dtype.newbyteorder("=")))
    codec = _BY_TORCH.get(t.dtype)
    if codec is None:
        supported = ", ".join(str(c.torch) for c in _CODECS)
        raise TypeError(f"cannot encode dtype {t.dtype}; supported: {supported}")
    carried = np.ascontiguousarray(
        t.detach().cpu().contiguous().view(codec.carrier).numpy(), dtype=codec.numpy
    )
    if shared is not None and shared.worth_it(carried.nbytes):
        return tensor_pb2.Tensor(dtype=codec.wire, shape=t.shape, shared_memory=shared.write(carried))
    return tensor_pb2.Tensor(dtype=codec.wire, shape=t.shape, data=carried.tobytes())


def from_proto(
    msg: tensor_pb2.Tensor,
    field: str,
    *,
    dtypes: Collection[torch.dtype] | None = None,
    shape: Sequence[int | None] | None = None,
    finite: bool = True,
    shared: SharedMemory | None = None,
) -> torch.Tensor:
    """Decodes and checks a Tensor; every problem is an InvalidArgument naming `field`.

    dtypes: the allowed torch dtypes (None: any supported). shape: the expected shape, None for a
    dimension of any size (None: any shape). finite: reject NaN and Inf in floating-point data.
    shared: this process's shared memory, if it has one (a region reaching a process without is
    refused). Returns a writable CPU tensor that owns its memory.
    """
    codec = _BY_WIRE.get(msg.dtype)
    if codec is None:
        raise InvalidArgument(field, f"dtype {_wire_name(msg.dtype)} is not a supported data type")
    if dtypes is not None and codec.torch not in dtypes:
        allowed = ", ".join(_BY_TORCH[d].name for d in dtypes)
        raise InvalidArgument(field, f"dtype {codec.name} is not allowed here (expected {allowed})")
    dims = list(msg.shape)
    count = _element_count(dims, field, shape)
    expected_bytes = count * codec.numpy.itemsize
    if msg.HasField("shared_memory"):
        owned = _read_shared(msg, field, codec, expected_bytes, shared)
        _check_values(owned, codec, field, finite)
    else:
        if len(msg.data) != expected_bytes:
            raise InvalidArgument(
                field, f"data has {len(msg.data)} bytes; shape {dims} of {codec.name} needs {expected_bytes}"
            )
        view = np.frombuffer(msg.data, dtype=codec.numpy)
        _check_values(view, codec, field, finite)
        owned = view.astype(codec.numpy.newbyteorder("="), copy=True)
    return torch.from_numpy(owned).view(codec.torch).reshape(dims)


def _read_shared(
    msg: tensor_pb2.Tensor, field: str, codec: _Codec, expected_bytes: int, shared: SharedMemory | None
) -> np.ndarray:
    region = msg.shared_memory
    if shared is None:
        raise InvalidArgument(
            field,
            "arrives in shared memory, which this service does not share "
            "with the caller (--shared-memory-dir)",
        )
    if msg.data:
        raise InvalidArgument(field, "has both data and a shared memory region")
    if region.byte_size != expected_bytes:
        raise InvalidArgument(
            field,
            f"shared memory region has {region.byte_size} bytes; shape "
            f"{list(msg.shape)} of {codec.name} needs {expected_bytes}",
        )
    owned = shared.read(region, field, codec.numpy)
    return owned if owned.dtype.isnative else owned.astype(codec.numpy.newbyteorder("="))


def _wire_name(dtype: int) -> str:
    try:
        return tensor_pb2.DataType.Name(dtype)
    except ValueError:
        return str(dtype)


def _element_count(dims: list[int], field: str, expected: Sequence[int | None] | None) -> int:
    if len(dims) > _MAX_RANK:
        raise InvalidArgument(field, f"rank {len(dims)} exceeds the maximum of {_MAX_RANK}")
    if any(d < 0 for d in dims):
        raise InvalidArgument(field, f"shape {dims} has a negative dimension")
    if expected is not None and (
        len(dims) != len(expected)
        or any(e is not None and d != e for d, e in zip(dims, expected, strict=True))
    ):
        wanted = "[" + ", ".join("*" if e is None else str(e) for e in expected) + "]"
        raise InvalidArgument(field, f"expected shape {wanted}, got {dims}")
    # Zero-sized dimensions do not excuse the others: strides must still fit in int64.
    if math.prod(max(d, 1) for d in dims) > _INT64_MAX:
        raise InvalidArgument(field, f"shape {dims} has more elements than int64 can count")
    return math.prod(dims)


def _check_values(view: np.ndarray, codec: _Codec, field: str, finite: bool) -> None:
    if codec.torch is torch.bool:
        if view.size and view.max() > 1:
            raise InvalidArgument(field, "bool elements must be 0 or 1")
    elif finite and codec.torch.is_floating_point:
        if codec.torch is torch.bfloat16:
            bad = ((view.view("<u2") & _BFLOAT16_EXPONENT) == _BFLOAT16_EXPONENT).any()
        else:
            bad = not np.isfinite(view).all()
        if bad:
            raise InvalidArgument(field, "contains NaN or infinite values")
