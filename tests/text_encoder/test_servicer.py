"""TextEncoderService on port 0 with the tiny bundle: outputs and bad input."""

import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc

from services.runtime.tensor_codec import from_proto, to_proto
from services.text_encoder.stage import TextEncoderStage
from tests.stage_servers import running_stage, status_of
from unclip.v1 import tensor_pb2, text_encoder_pb2, text_encoder_pb2_grpc


@pytest.fixture(scope="module")
def channel(tiny_bundle):
    with running_stage("text_encoder", TextEncoderStage, tiny_bundle.root) as channel:
        yield channel


@pytest.fixture(scope="module")
def stub(channel):
    return text_encoder_pb2_grpc.TextEncoderServiceStub(channel)


def test_encode_text_shapes_and_unconditional(stub):
    reply = stub.EncodeText(text_encoder_pb2.EncodeTextRequest(prompts=["a red circle", "a blue square"]))
    embedding = from_proto(reply.prompts.text_embedding, "e")
    states = from_proto(reply.prompts.token_states, "s")
    mask = from_proto(reply.prompts.attention_mask, "m")
    assert embedding.shape[0] == 2 and states.shape[:2] == mask.shape and mask.dtype == torch.bool
    assert mask[:, 0].all() and not mask[:, -1].any()
    assert from_proto(reply.unconditional.text_embedding, "u").shape == (1, embedding.shape[1])
    assert list(reply.truncated) == [False, False]
    assert not torch.allclose(embedding[0], embedding[1])


def test_long_prompt_is_truncated_and_reported(stub):
    reply = stub.EncodeText(text_encoder_pb2.EncodeTextRequest(prompts=["red " * 500]))
    assert list(reply.truncated) == [True]


def test_encode_image(stub):
    images = np.random.default_rng(0).integers(0, 256, size=(2, 50, 70, 3), dtype=np.uint8)
    reply = stub.EncodeImage(text_encoder_pb2.EncodeImageRequest(images=to_proto(images)))
    assert from_proto(reply.image_embeddings, "e").shape[0] == 2


@pytest.mark.parametrize(
    "request_, field",
    [
        (text_encoder_pb2.EncodeTextRequest(), "prompts"),
        (text_encoder_pb2.EncodeTextRequest(prompts=["x" * 5000]), "prompts[0]"),
    ],
)
def test_bad_text_requests(stub, channel, request_, field):
    code, details = status_of(lambda: stub.EncodeText(request_))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(field)
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING


@pytest.mark.parametrize(
    "tensor",
    [
        to_proto(np.zeros((1, 8, 8, 3), dtype=np.float32)),  # wrong dtype
        to_proto(np.zeros((1, 8, 8), dtype=np.uint8)),  # wrong rank
        to_proto(np.zeros((1, 8, 8, 4), dtype=np.uint8)),  # not RGB
        tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_UINT8, shape=[1, 8, 8, 3], data=b"\0" * 10),
        tensor_pb2.Tensor(dtype=tensor_pb2.DATA_TYPE_UINT8, shape=[2**40, 2**40, 3, 3], data=b""),
        to_proto(np.zeros((0, 8, 8, 3), dtype=np.uint8)),  # no image
    ],
)
def test_bad_images(stub, tensor):
    code, details = status_of(lambda: stub.EncodeImage(text_encoder_pb2.EncodeImageRequest(images=tensor)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith("images")
