"""DecoderService on port 0 with the tiny bundle: streamed steps, output dtypes, bad input."""

import grpc
import numpy as np
import pytest
import torch

from services.decoder.stage import DecoderStage
from services.runtime.tensor_codec import from_proto, to_proto
from tests.stage_servers import drain, running_stage, status_of, text_request_fields
from unclip.v1 import decoder_pb2, decoder_pb2_grpc, sampling_pb2, tensor_pb2


@pytest.fixture(scope="module")
def stub(tiny_bundle):
    with running_stage("decoder", DecoderStage, tiny_bundle.root) as channel:
        yield decoder_pb2_grpc.DecoderServiceStub(channel)


@pytest.fixture(scope="module")
def fields(stage_models):
    embedding_dim = stage_models.decoder.text_proj.embedding_proj.in_features
    embeddings = torch.randn(2, embedding_dim, generator=torch.Generator().manual_seed(0))
    return {
        "image_embeddings": to_proto(embeddings),
        **text_request_fields(stage_models.text_encoder, ["a red circle", "a blue square"]),
    }


def request(fields, output_dtype=tensor_pb2.DATA_TYPE_FLOAT32, **sampling):
    return decoder_pb2.DecodeImageRequest(
        **fields,
        sampling=sampling_pb2.SamplingParams(num_inference_steps=2, **sampling),
        random=sampling_pb2.RandomState(seed=5),
        output_dtype=output_dtype,
    )


def test_decodes_64px_images_in_range(stub, fields):
    progress, result = drain(stub.DecodeImage(request(fields, guidance_scale=3.0)))
    images = from_proto(result.images, "images")
    assert len(progress) == 2 and images.shape == (2, 3, 64, 64)
    assert images.min() >= -1 and images.max() <= 1


def test_uint8_output_is_the_rounded_float_output(stub, fields):
    as_float = from_proto(drain(stub.DecodeImage(request(fields)))[1].images, "f")
    as_uint8 = from_proto(drain(stub.DecodeImage(request(fields, tensor_pb2.DATA_TYPE_UINT8)))[1].images, "u")
    assert as_uint8.dtype == torch.uint8
    assert torch.equal(as_uint8, ((as_float * 0.5 + 0.5).clamp(0, 1) * 255).round().to(torch.uint8))


@pytest.mark.parametrize(
    "field, value",
    [
        ("image_embeddings", to_proto(np.zeros((2, 3), np.float32))),
        ("image_embeddings", to_proto(np.zeros((3, 2), np.int64))),
        ("output_dtype", tensor_pb2.DATA_TYPE_INT64),
    ],
)
def test_bad_input_names_the_field(stub, fields, field, value):
    message = request(fields)
    if isinstance(value, tensor_pb2.Tensor):
        getattr(message, field).CopyFrom(value)
    else:
        setattr(message, field, value)
    code, details = status_of(lambda: stub.DecodeImage(message))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(field), details


def test_text_rows_must_match_embeddings(stub, fields, stage_models):
    message = request({**fields, **text_request_fields(stage_models.text_encoder, ["only one"])})
    code, details = status_of(lambda: stub.DecodeImage(message))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("text.text_embedding")


def test_given_latents_replace_the_drawn_noise(stub, fields):
    latents = to_proto(torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(1)))
    results = []
    for seed in (1, 2):
        message = request(fields, scheduler=sampling_pb2.SCHEDULER_DDIM)
        message.random.seed = seed
        message.latents.CopyFrom(latents)
        results.append(drain(stub.DecodeImage(message))[1].images.data)
    assert results[0] == results[1]


def test_inpainting_keeps_the_known_region(stub, fields):
    known = torch.rand(2, 3, 64, 64) * 2 - 1
    mask = torch.zeros(2, 1, 64, 64)
    mask[..., 16:48, 16:48] = 1
    message = request(fields)
    message.inpainting.image.CopyFrom(to_proto(known))
    message.inpainting.repaint_mask.CopyFrom(to_proto(mask))
    images = from_proto(drain(stub.DecodeImage(message))[1].images, "images")
    assert torch.equal(images * (1 - mask), known * (1 - mask))
    assert not torch.allclose(images * mask, known * mask)


def test_invert_image_streams_steps_then_latents(stub, fields):
    message = decoder_pb2.InvertImageRequest(
        images=to_proto(torch.rand(2, 3, 64, 64) * 2 - 1),
        image_embeddings=fields["image_embeddings"],
        text=fields["text"],
        num_inference_steps=4,
    )
    progress, latents = drain(stub.InvertImage(message))
    assert [p.step for p in progress] == [3, 4]  # timesteps 0 and 250: the forward-noised start
    assert {p.total_steps for p in progress} == {4}
    assert from_proto(latents, "latents").shape == (2, 3, 64, 64)


def test_invert_image_checks_its_images(stub, fields):
    message = decoder_pb2.InvertImageRequest(
        images=to_proto(torch.zeros(2, 3, 32, 32)),
        image_embeddings=fields["image_embeddings"],
        text=fields["text"],
    )
    code, details = status_of(lambda: stub.InvertImage(message))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("images")


def test_invert_image_draws_its_start_noise_from_random(stub, fields):
    def latents(**random):
        message = decoder_pb2.InvertImageRequest(
            images=to_proto(torch.zeros(2, 3, 64, 64)),
            image_embeddings=fields["image_embeddings"],
            text=fields["text"],
            num_inference_steps=4,
            random=sampling_pb2.RandomState(**random),
        )
        return from_proto(drain(stub.InvertImage(message))[1], "latents")

    first = latents(seed=1)
    assert torch.equal(first, latents(seed=1)) and not torch.equal(first, latents(seed=2))
    code, details = status_of(lambda: latents(generator_state=b"short"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("random.generator_state")
