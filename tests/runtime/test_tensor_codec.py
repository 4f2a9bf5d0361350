import math
import warnings

import numpy as np
import pytest
import torch

from services.runtime.errors import InvalidArgument
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import tensor_pb2

DTYPES = [torch.float32, torch.float16, torch.bfloat16, torch.uint8, torch.int32, torch.int64, torch.bool]
SHAPES = [(), (1,), (0,), (3, 0, 2), (2, 3, 5), (1, 7, 1, 3)]


def sample(dtype: torch.dtype, shape: tuple[int, ...]) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    if dtype.is_floating_point:
        return torch.randn(shape, generator=generator).to(dtype)
    if dtype is torch.bool:
        return torch.randint(0, 2, shape, generator=generator).bool()
    return torch.randint(0, 200, shape, generator=generator).to(dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip(dtype, shape):
    original = sample(dtype, shape)
    msg = to_proto(original)
    assert list(msg.shape) == list(shape)
    assert len(msg.data) == original.numel() * original.element_size()
    decoded = from_proto(tensor_pb2.Tensor.FromString(msg.SerializeToString()), "x")
    assert decoded.dtype == dtype and decoded.shape == original.shape
    assert torch.equal(decoded, original)


def test_wire_bytes_are_little_endian_c_order():
    msg = to_proto(torch.tensor([[1, 2], [3, 4]], dtype=torch.int32).t())
    assert msg.data == np.array([1, 3, 2, 4], dtype="<i4").tobytes()
    assert msg.dtype == tensor_pb2.DATA_TYPE_INT32


def test_numpy_input_any_byte_order_and_strides():
    array = np.arange(12, dtype=">f4").reshape(3, 4)[:, ::2]
    decoded = from_proto(to_proto(array), "x")
    assert torch.equal(decoded, torch.tensor(array.astype("f4")))


def test_gradient_tensor_is_encoded_detached():
    t = torch.ones(2, requires_grad=True) * 2
    assert torch.equal(from_proto(to_proto(t), "x"), torch.full((2,), 2.0))


def test_unsupported_dtype_cannot_be_encoded():
    with pytest.raises(TypeError, match="float64"):
        to_proto(torch.zeros(2, dtype=torch.float64))


def test_decoded_tensor_is_writable_owned_and_silent():
    msg = to_proto(torch.arange(6, dtype=torch.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        decoded = from_proto(msg, "x")
        decoded += 1
    assert torch.equal(from_proto(msg, "x"), torch.arange(6, dtype=torch.float32))


def test_allowed_dtypes_and_shape_pattern_pass():
    msg = to_proto(torch.zeros(2, 3, 4, dtype=torch.float16))
    decoded = from_proto(msg, "x", dtypes=(torch.float16, torch.float32), shape=(None, 3, 4))
    assert decoded.shape == (2, 3, 4)


def tensor(dtype=tensor_pb2.DATA_TYPE_FLOAT32, shape=(2,), data=b"\0" * 8) -> tensor_pb2.Tensor:
    return tensor_pb2.Tensor(dtype=dtype, shape=shape, data=data)


BAD = {
    "unspecified dtype": (tensor(dtype=tensor_pb2.DATA_TYPE_UNSPECIFIED), {}, "DATA_TYPE_UNSPECIFIED"),
    "unknown dtype": (tensor(dtype=99), {}, "99"),
    "dtype not allowed": (tensor(), {"dtypes": (torch.uint8,)}, "DATA_TYPE_FLOAT32 is not allowed"),
    "negative dim": (tensor(shape=(-1, -2)), {}, "negative"),
    "product overflows int64": (tensor(shape=(2**40, 2**40)), {}, "int64"),
    "overflow hidden by zero dim": (tensor(shape=(0, 2**40, 2**40), data=b""), {}, "int64"),
    "too many bytes": (tensor(data=b"\0" * 9), {}, "9 bytes"),
    "too few bytes": (tensor(shape=(2**20,)), {}, "needs 4194304"),
    "rank": (tensor(), {"shape": (2, 1)}, "expected shape [2, 1], got [2]"),
    "size": (tensor(shape=(2, 1)), {"shape": (None, 3)}, "expected shape [*, 3], got [2, 1]"),
    "too many dims": (tensor(shape=(1,) * 33, data=b"\0" * 4), {}, "rank 33"),
    "nan": (tensor(data=np.array([0, np.nan], "<f4").tobytes()), {}, "NaN"),
    "inf float16": (
        tensor(tensor_pb2.DATA_TYPE_FLOAT16, (2,), np.array([np.inf, 1], "<f2").tobytes()),
        {},
        "NaN or infinite",
    ),
    "inf bfloat16": (tensor(tensor_pb2.DATA_TYPE_BFLOAT16, (1,), b"\x80\xff"), {}, "NaN or infinite"),
    "nan bfloat16": (tensor(tensor_pb2.DATA_TYPE_BFLOAT16, (1,), b"\xc0\x7f"), {}, "NaN or infinite"),
    "bool not 0 or 1": (tensor(tensor_pb2.DATA_TYPE_BOOL, (2,), b"\x01\x02"), {}, "0 or 1"),
}


@pytest.mark.parametrize("case", BAD, ids=list(BAD))
def test_bad_input_names_the_field(case):
    msg, kwargs, reason = BAD[case]
    with pytest.raises(InvalidArgument) as caught:
        from_proto(msg, "decoder.image_embeddings", **kwargs)
    assert caught.value.field == "decoder.image_embeddings"
    assert caught.value.message.startswith("decoder.image_embeddings: ")
    assert reason in caught.value.message


def test_non_finite_allowed_when_asked():
    decoded = from_proto(to_proto(torch.tensor([math.inf, math.nan])), "x", finite=False)
    assert decoded[0] == math.inf and decoded[1].isnan()
