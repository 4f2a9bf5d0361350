"""A stage's failure as the orchestrator's caller sees it."""

import grpc
import pytest

from services.orchestrator.stage_errors import from_stage_failure


def failure(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_stage_field_is_renamed_to_the_public_field():
    error = from_stage_failure("decoder", "decoder", failure(
        grpc.StatusCode.INVALID_ARGUMENT, "sampling.num_inference_steps: must be between 1 and 1000"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "decoder.num_inference_steps: must be between 1 and 1000"


@pytest.mark.parametrize("code, expected", [
    (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE),
    (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNAVAILABLE),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.DEADLINE_EXCEEDED),
])
def test_other_failures_name_the_stage(code, expected):
    error = from_stage_failure("upsampler_256", "upsampler_256", failure(code, "boom"))
    assert error.code == expected and "upsampler_256" in error.message


def test_a_stage_precondition_reaches_the_caller_with_its_reason():
    error = from_stage_failure("text_encoder", "image", failure(
        grpc.StatusCode.FAILED_PRECONDITION, "images: this bundle has no image encoder (image_encoder/)"))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.message == "text_encoder stage: images: this bundle has no image encoder (image_encoder/)"
