"""Hypothesis strategies of malformed requests: every structured example is wrong somewhere."""

import math

import numpy as np
from hypothesis import strategies as st

from unclip.v1 import (
    decoder_pb2,
    generation_pb2,
    prior_pb2,
    sampling_pb2,
    tensor_pb2,
    text_encoder_pb2,
    upsampler_pb2,
)

_DIMS = st.one_of(st.integers(-3, 70), st.sampled_from([2**31, 2**40, 2**62, 2**63 - 1, -(2**63)]))
_DTYPES = st.integers(-1, 12)  # the known ones, UNSPECIFIED and unknown values
_BIG_TEXT = st.sampled_from([4001, 100_000, 2**20]).map(lambda n: "x" * n)  # up to megabyte prompts


def _not_finite_tensor(shape: list[int], value: float, dtype: str) -> tensor_pb2.Tensor:
    wire = {"<f4": tensor_pb2.DATA_TYPE_FLOAT32, "<f2": tensor_pb2.DATA_TYPE_FLOAT16}[dtype]
    data = np.full(math.prod(shape), value, dtype=dtype).tobytes()
    return tensor_pb2.Tensor(dtype=wire, shape=shape, data=data)


def tensors() -> st.SearchStrategy[tensor_pb2.Tensor]:
    """Random dtype/shape/bytes (wrong dtypes, negative or overflowing shapes, byte lengths that
    disagree), or well-formed floats holding NaN or Inf."""
    inconsistent = st.builds(
        tensor_pb2.Tensor, dtype=_DTYPES, shape=st.lists(_DIMS, max_size=6), data=st.binary(max_size=300)
    )
    not_finite = st.builds(
        _not_finite_tensor,
        st.lists(st.integers(1, 8), min_size=1, max_size=4),
        st.sampled_from([math.nan, math.inf, -math.inf]),
        st.sampled_from(["<f4", "<f2"]),
    )
    return st.one_of(inconsistent, not_finite)


def sampling() -> st.SearchStrategy[sampling_pb2.SamplingParams]:
    return st.builds(
        sampling_pb2.SamplingParams,
        num_inference_steps=st.integers(-(2**31), 2**31 - 1),
        guidance_scale=st.floats(width=32),
        scheduler=st.integers(-1, 10),
    )


def random_states() -> st.SearchStrategy[sampling_pb2.RandomState]:
    return st.one_of(
        st.builds(sampling_pb2.RandomState),
        st.builds(sampling_pb2.RandomState, seed=st.integers(0, 2**64 - 1)),
        st.builds(sampling_pb2.RandomState, generator_state=st.binary(max_size=64)),
    )


def _encodings() -> st.SearchStrategy[text_encoder_pb2.TextEncoding]:
    return st.builds(
        text_encoder_pb2.TextEncoding,
        text_embedding=tensors(),
        token_states=tensors(),
        attention_mask=tensors(),
    )


def encode_text() -> st.SearchStrategy:
    too_many = st.lists(st.text(max_size=8), min_size=65, max_size=80)
    too_long = st.tuples(st.lists(st.text(max_size=20), max_size=3), _BIG_TEXT).map(lambda p: [*p[0], p[1]])
    return st.builds(text_encoder_pb2.EncodeTextRequest, prompts=st.one_of(st.just([]), too_many, too_long))


def encode_image() -> st.SearchStrategy:
    return st.builds(text_encoder_pb2.EncodeImageRequest, images=tensors())


def prior() -> st.SearchStrategy:
    return st.builds(
        prior_pb2.GenerateImageEmbeddingRequest,
        text=_encodings(),
        unconditional=_encodings(),
        sampling=sampling(),
        random=random_states(),
    )


def decoder() -> st.SearchStrategy:
    return st.builds(
        decoder_pb2.DecodeImageRequest,
        image_embeddings=tensors(),
        text=_encodings(),
        unconditional=_encodings(),
        sampling=sampling(),
        random=random_states(),
        output_dtype=_DTYPES,
    )


def upsampler() -> st.SearchStrategy:
    return st.builds(
        upsampler_pb2.UpsampleImageRequest,
        images=tensors(),
        sampling=sampling(),
        random=random_states(),
        noise_level=st.integers(-(2**31), 2**31 - 1),
        output_dtype=_DTYPES,
    )


def _bad_generation_field() -> st.SearchStrategy[dict]:
    """One field of GenerateImagesRequest that is out of its documented limits."""
    bad_steps = st.one_of(st.integers(-(2**31), 0), st.integers(1001, 2**31 - 1))
    bad_guidance = st.sampled_from([math.nan, math.inf, -math.inf, -1.0])
    stage = st.sampled_from(["prior", "decoder", "upsampler_256", "upsampler_1024"])
    return st.one_of(
        st.builds(lambda p: {"prompt": p}, st.one_of(st.sampled_from(["", "  ", "\n"]), _BIG_TEXT)),
        st.builds(
            lambda n: {"num_images": n}, st.one_of(st.integers(-(2**31), -1), st.integers(9, 2**31 - 1))
        ),
        st.builds(lambda s: {"size": s}, st.integers(4, 2**31 - 1)),
        st.builds(lambda s, n: {s: sampling_pb2.SamplingParams(num_inference_steps=n)}, stage, bad_steps),
        st.builds(lambda s, g: {s: sampling_pb2.SamplingParams(guidance_scale=g)}, stage, bad_guidance),
        st.builds(lambda s, k: {s: sampling_pb2.SamplingParams(scheduler=k)}, stage, st.integers(5, 99)),
    )


def generate_images() -> st.SearchStrategy:
    def build(prompt, num_images, size, knobs, bad):
        fields = {"prompt": prompt, "num_images": num_images, "size": size, **knobs, **bad}
        return generation_pb2.GenerateImagesRequest(**fields)

    knobs = st.fixed_dictionaries({}, optional={s: sampling() for s in ("prior", "decoder")})
    return st.builds(
        build, st.text(max_size=40), st.integers(0, 8), st.integers(0, 3), knobs, _bad_generation_field()
    )


def create_variations() -> st.SearchStrategy:
    """Images that do not decode (random bytes, a truncated PNG header)."""
    images = st.one_of(
        st.binary(max_size=2000), st.binary(max_size=200).map(lambda b: b"\x89PNG\r\n\x1a\n" + b)
    )
    return st.builds(
        lambda data, n: generation_pb2.CreateVariationsRequest(
            image=generation_pb2.ImageInput(encoded=data), num_images=n
        ),
        images,
        st.integers(-2, 9),
    )
