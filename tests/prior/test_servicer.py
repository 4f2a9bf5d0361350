"""PriorService on port 0 with the tiny bundle: streamed steps, reproducibility, bad input."""

import math

import grpc
import numpy as np
import pytest
import torch

from services.prior.stage import PriorStage
from services.runtime.tensor_codec import from_proto, to_proto
from tests.stage_servers import drain, running_stage, status_of, text_request_fields
from unclip.v1 import prior_pb2, prior_pb2_grpc, sampling_pb2, tensor_pb2


@pytest.fixture(scope="module")
def stub(tiny_bundle):
    with running_stage("prior", PriorStage, tiny_bundle.root) as channel:
        yield prior_pb2_grpc.PriorServiceStub(channel)


@pytest.fixture(scope="module")
def text(stage_models):
    return text_request_fields(stage_models.text_encoder, ["a red circle", "a blue square"])


def request(text, steps=3, seed=7, **sampling):
    return prior_pb2.GenerateImageEmbeddingRequest(
        **text,
        sampling=sampling_pb2.SamplingParams(num_inference_steps=steps, **sampling),
        random=sampling_pb2.RandomState(seed=seed),
    )


def test_streams_each_step_then_embeddings(stub, text, stage_models):
    progress, result = drain(stub.GenerateImageEmbedding(request(text, guidance_scale=4.0)))
    assert [(p.step, p.total_steps) for p in progress] == [(1, 3), (2, 3), (3, 3)]
    embeddings = from_proto(result.image_embeddings, "e")
    assert embeddings.shape == (2, stage_models.prior.embedding_dim)
    assert len(result.generator_state) > 0


def test_same_seed_same_embedding_other_seed_differs(stub, text):
    first = drain(stub.GenerateImageEmbedding(request(text, seed=3)))[1]
    again = drain(stub.GenerateImageEmbedding(request(text, seed=3)))[1]
    other = drain(stub.GenerateImageEmbedding(request(text, seed=4)))[1]
    assert first.image_embeddings.data == again.image_embeddings.data
    assert first.generator_state == again.generator_state
    assert first.image_embeddings.data != other.image_embeddings.data


def test_generator_state_resumes(stub, text):
    """A stage given a generator state continues that stream instead of starting a new one."""
    state = torch.Generator().manual_seed(11).get_state().numpy().tobytes()
    message = request(text)
    message.random.generator_state = state
    resumed = drain(stub.GenerateImageEmbedding(message))[1]
    seeded = drain(stub.GenerateImageEmbedding(request(text, seed=11)))[1]
    assert resumed.image_embeddings.data == seeded.image_embeddings.data


def _with(fields, **changes):
    message = request(fields)
    for path, value in changes.items():
        target = message
        *parents, leaf = path.split("__")
        for name in parents:
            target = getattr(target, name)
        if isinstance(value, tensor_pb2.Tensor):
            getattr(target, leaf).CopyFrom(value)
        elif value is None:
            target.ClearField(leaf)
        else:
            setattr(target, leaf, value)
    return message


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"sampling__num_inference_steps": 0}, "sampling.num_inference_steps"),
        ({"sampling__num_inference_steps": 100_000}, "sampling.num_inference_steps"),
        ({"sampling__num_inference_steps": -5}, "sampling.num_inference_steps"),
        (
            {"sampling__num_inference_steps": 1, "sampling__scheduler": sampling_pb2.SCHEDULER_UNCLIP},
            "sampling.num_inference_steps",
        ),
        ({"sampling__guidance_scale": math.nan}, "sampling.guidance_scale"),
        ({"sampling__guidance_scale": math.inf}, "sampling.guidance_scale"),
        ({"sampling__scheduler": 42}, "sampling.scheduler"),
        ({"random": None}, "random"),
        ({"random__generator_state": b"garbage"}, "random"),
        ({"text": None}, "text"),
        ({"text__text_embedding": to_proto(np.full((2, 3), np.nan, np.float32))}, "text.text_embedding"),
        ({"text__token_states": to_proto(np.zeros((2, 5, 7), np.float32))}, "text.token_states"),
        ({"text__attention_mask": to_proto(np.zeros((2, 3), np.float32))}, "text.attention_mask"),
        (
            {
                "unconditional__text_embedding": tensor_pb2.Tensor(
                    dtype=tensor_pb2.DATA_TYPE_FLOAT32, shape=[1, 4], data=b"\0"
                )
            },
            "unconditional.text_embedding",
        ),
    ],
)
def test_bad_input_names_the_field(stub, text, changes, field):
    code, details = status_of(lambda: stub.GenerateImageEmbedding(_with(text, **changes)))
    assert code == grpc.StatusCode.INVALID_ARGUMENT, details
    assert details.startswith(field), details
    assert drain(stub.GenerateImageEmbedding(request(text)))[1].image_embeddings.data  # still serves
