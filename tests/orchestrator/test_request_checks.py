"""Which stages a request needs follows the request: variations need no prior, and a request a mesh
cannot serve is refused naming the missing stage, before any stage is called."""

import grpc
import pytest

from services.orchestrator.request_checks import RequestLimits, check_generate, image_stages
from services.runtime import validation
from services.runtime.errors import FailedPrecondition, InvalidArgument
from unclip.v1 import generation_pb2

EVERY_STAGE = {"text_encoder", "prior", "decoder", "upsampler_256", "upsampler_1024"}
VARIATIONS_ONLY = {"text_encoder", "decoder", "upsampler_256"}  # Karlo's image-variations folder
VARIATIONS = ("text_encoder",)
TEXT_TO_IMAGE = ("text_encoder", "prior")


def _variations(size=generation_pb2.IMAGE_SIZE_UNSPECIFIED):
    return generation_pb2.CreateVariationsRequest(size=size)


@pytest.mark.parametrize(
    "size, expected",
    [
        (generation_pb2.IMAGE_SIZE_UNSPECIFIED, ("decoder", "upsampler_256")),
        (generation_pb2.IMAGE_SIZE_64, ("decoder",)),
        (generation_pb2.IMAGE_SIZE_256, ("decoder", "upsampler_256")),
    ],
)
def test_variations_are_served_without_a_prior_at_every_size_the_mesh_has(size, expected):
    assert image_stages(_variations(size), VARIATIONS, VARIATIONS_ONLY) == expected


def test_unspecified_size_is_the_largest_the_mesh_serves():
    request = generation_pb2.GenerateImagesRequest()
    assert image_stages(request, TEXT_TO_IMAGE, EVERY_STAGE)[-1] == "upsampler_1024"
    assert image_stages(request, TEXT_TO_IMAGE, EVERY_STAGE - {"upsampler_256"}) == ("decoder",)


def test_a_size_beyond_the_meshs_upsamplers_is_invalid_argument_naming_the_stage():
    with pytest.raises(InvalidArgument) as error:
        image_stages(_variations(generation_pb2.IMAGE_SIZE_1024), VARIATIONS, VARIATIONS_ONLY)
    assert error.value.message == "size: 1024 px needs the upsampler_1024 stage, which this mesh does not run"


@pytest.mark.parametrize(
    "request_type, inputs, served, missing",
    [
        (generation_pb2.GenerateImagesRequest, TEXT_TO_IMAGE, VARIATIONS_ONLY, "prior"),
        (generation_pb2.InpaintImageRequest, TEXT_TO_IMAGE, VARIATIONS_ONLY, "prior"),
        (generation_pb2.CreateVariationsRequest, VARIATIONS, {"decoder"}, "text_encoder"),
        (generation_pb2.CreateVariationsRequest, VARIATIONS, {"text_encoder", "upsampler_256"}, "decoder"),
    ],
)
def test_a_missing_input_stage_is_failed_precondition_naming_it(request_type, inputs, served, missing):
    for size in (generation_pb2.IMAGE_SIZE_UNSPECIFIED, generation_pb2.IMAGE_SIZE_64):
        with pytest.raises(FailedPrecondition) as error:
            image_stages(request_type(size=size), inputs, served)
        assert error.value.code == grpc.StatusCode.FAILED_PRECONDITION
        rpc = request_type.__name__.removesuffix("Request")
        assert error.value.message == f"{rpc} needs the {missing} stage, which this mesh does not run"


def test_the_orchestrator_checks_sampling_with_the_stages_validator():
    request = generation_pb2.GenerateImagesRequest(prompt="a red circle")
    request.upsampler_256.num_inference_steps = 1001
    with pytest.raises(InvalidArgument) as error:
        check_generate(request, RequestLimits())
    with pytest.raises(InvalidArgument) as stage_error:
        validation.num_inference_steps(
            request.upsampler_256, "upsampler_256.num_inference_steps", 25, RequestLimits().max_steps
        )
    assert (
        error.value.message
        == stage_error.value.message
        == ("upsampler_256.num_inference_steps: must be from 1 to 1000, got 1001")
    )
