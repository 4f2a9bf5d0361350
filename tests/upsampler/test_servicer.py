"""UpsamplerService on port 0, both configurations of the one code base, and bad input."""

import grpc
import numpy as np
import pytest
import torch

from services.runtime.shared_memory import METADATA_KEY, SharedMemory
from services.runtime.tensor_codec import from_proto, to_proto
from services.upsampler.stage import UpsamplerStage
from tests.stage_servers import drain, running_stage, status_of
from unclip.v1 import sampling_pb2, tensor_pb2, upsampler_pb2, upsampler_pb2_grpc


def request(images, steps=2, **extra):
    return upsampler_pb2.UpsampleImageRequest(
        images=images if isinstance(images, tensor_pb2.Tensor) else to_proto(images),
        sampling=sampling_pb2.SamplingParams(num_inference_steps=steps),
        random=sampling_pb2.RandomState(seed=1),
        **extra,
    )


@pytest.mark.parametrize("stage, low, high", [("upsampler_256", 64, 256), ("upsampler_1024", 256, 1024)])
def test_upsamples_to_the_stage_size(tiny_bundle, stage, low, high):
    low_res = torch.rand(1, 3, low, low) * 2 - 1
    with running_stage(stage, UpsamplerStage, tiny_bundle.root) as channel:
        stub = upsampler_pb2_grpc.UpsamplerServiceStub(channel)
        progress, result = drain(
            stub.UpsampleImage(request(low_res, output_dtype=tensor_pb2.DATA_TYPE_UINT8))
        )
    images = from_proto(result.images, "images")
    assert len(progress) == 2 and images.shape == (1, 3, high, high) and images.dtype == torch.uint8


@pytest.fixture(scope="module")
def stub_256(tiny_bundle):
    with running_stage("upsampler_256", UpsamplerStage, tiny_bundle.root) as channel:
        yield upsampler_pb2_grpc.UpsamplerServiceStub(channel)


@pytest.mark.parametrize(
    "message, field",
    [
        (request(np.zeros((1, 3, 32, 32), np.float32)), "images"),
        (request(np.zeros((1, 4, 64, 64), np.float32)), "images"),
        (request(np.full((1, 3, 64, 64), np.inf, np.float32)), "images"),
        (request(np.zeros((1, 3, 64, 64), np.float32), noise_level=-1), "noise_level"),
        (request(np.zeros((1, 3, 64, 64), np.float32), steps=0), "sampling.num_inference_steps"),
    ],
)
def test_bad_input_names_the_field(stub_256, message, field):
    code, details = status_of(lambda: stub_256.UpsampleImage(message))
    assert code == grpc.StatusCode.INVALID_ARGUMENT and details.startswith(field), details


def test_replies_through_shared_memory_to_a_caller_on_the_same_node(tiny_bundle, tmp_path):
    caller = SharedMemory(tmp_path, min_bytes=1)
    low_res = torch.rand(2, 3, 64, 64) * 2 - 1  # a 1.5 MB float32 reply, above the stage's threshold
    try:
        with running_stage(
            "upsampler_256", UpsamplerStage, tiny_bundle.root, shared_memory_dir=str(tmp_path)
        ) as channel:
            stub = upsampler_pb2_grpc.UpsamplerServiceStub(channel)
            _, inline_reply = drain(stub.UpsampleImage(request(low_res)))
            _, shared_reply = drain(
                stub.UpsampleImage(
                    request(to_proto(low_res, caller)), metadata=((METADATA_KEY, caller.marker()),)
                )
            )
        assert not inline_reply.images.HasField("shared_memory")
        region = shared_reply.images.shared_memory
        assert region.byte_size == 2 * 3 * 256 * 256 * 4 and (tmp_path / region.name).is_file()
        assert torch.equal(
            from_proto(shared_reply.images, "images", shared=caller),
            from_proto(inline_reply.images, "images"),
        )
    finally:
        caller.close()
