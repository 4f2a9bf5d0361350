"""A stage's failure as the orchestrator's caller sees it: one test per status (docs/API.md, Errors).

Stage failures are built as the stage sends them (a StageError's rich status in the trailers), and
the orchestrator's error is read back the way its caller reads it.
"""

import grpc
import pytest

from services.orchestrator.stage_errors import from_stage_failure, request_path
from services.runtime import errors
from services.runtime.rich_status import FailureDetails, Violation, read_details


def sent(error: errors.StageError) -> grpc.aio.AioRpcError:
    """The failed call a stage raising `error` ends with, as its caller receives it."""
    status = error.status()
    return grpc.aio.AioRpcError(
        status.code, grpc.aio.Metadata(), grpc.aio.Metadata(*status.trailing_metadata), details=status.details
    )


def plain(code: grpc.StatusCode, details: str) -> grpc.aio.AioRpcError:
    """A failed call without a rich status (grpc's own statuses)."""
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details=details)


def test_invalid_argument_puts_the_stage_field_in_the_request():
    error = from_stage_failure(
        "decoder",
        "decoder",
        sent(errors.InvalidArgument("sampling.num_inference_steps", "must be from 1 to 1000, got 0")),
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert error.message == "decoder.num_inference_steps: must be from 1 to 1000, got 0"
    assert read_details(sent(error)) == FailureDetails(
        violations=(Violation("decoder.num_inference_steps", "must be from 1 to 1000, got 0"),),
        reason="INVALID_FIELD",
        stage="decoder",
    )


@pytest.mark.parametrize(
    "field, stage_path, expected",
    [
        ("decoder", "sampling.eta", "decoder.eta"),
        ("upsampler_256", "sampling", "upsampler_256"),
        ("decoder", "num_inference_steps", "decoder.num_inference_steps"),  # InvertImage's own field
        ("image", "images", "image.images"),
        ("prompt", "prompts[0]", "prompt.prompts[0]"),
        ("decoder", "random.generator_state", "decoder.random.generator_state"),
    ],
)
def test_request_path(field, stage_path, expected):
    assert request_path(field, stage_path) == expected


def test_the_field_comes_from_the_details_never_from_the_message():
    stage_error = errors.InvalidArgument("images", "must hold 1 to 16 images")
    stage_error.message = "sampling.eta: a message that reads like another field"
    error = from_stage_failure("text_encoder", "image", sent(stage_error))
    assert error.field == "image.images" and error.message == "image.images: must hold 1 to 16 images"


def test_invalid_argument_without_details_names_the_request_field():
    error = from_stage_failure("decoder", "decoder", plain(grpc.StatusCode.INVALID_ARGUMENT, "bad"))
    assert (error.code, error.message, error.field) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "decoder: bad",
        "decoder",
    )


@pytest.mark.parametrize("sent_delay, expected_delay", [(2.5, 2.5), (None, 1.0)])
def test_resource_exhausted_passes_through_with_retry_info(sent_delay, expected_delay):
    failure = (
        sent(errors.ResourceExhausted("queue full", sent_delay))
        if sent_delay
        else plain(grpc.StatusCode.RESOURCE_EXHAUSTED, "queue full")
    )
    error = from_stage_failure("prior", "prior", failure)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.message == "prior stage is overloaded: queue full"
    details = read_details(sent(error))
    assert (details.retry_after_seconds, details.reason, details.stage) == (
        expected_delay,
        "OVERLOADED",
        "prior",
    )


def test_a_stage_internal_error_stays_internal():
    failure = plain(grpc.StatusCode.INTERNAL, "internal error")
    error = from_stage_failure("upsampler_256", "upsampler_256", failure)
    assert (error.code, error.message) == (grpc.StatusCode.INTERNAL, "upsampler_256 stage: internal error")
    assert read_details(sent(error)) == FailureDetails(reason="STAGE_INTERNAL_ERROR", stage="upsampler_256")


@pytest.mark.parametrize(
    "code", [grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNIMPLEMENTED, grpc.StatusCode.PERMISSION_DENIED]
)
def test_codes_a_sound_mesh_never_sends_are_internal_naming_the_code(code):
    error = from_stage_failure("prior", "prior", plain(code, "boom"))
    assert (error.code, error.message) == (grpc.StatusCode.INTERNAL, f"prior stage: {code.name}: boom")


def test_a_stage_precondition_reaches_the_caller_with_its_reason():
    error = from_stage_failure(
        "text_encoder",
        "image",
        sent(errors.FailedPrecondition("images: this bundle has no image encoder (image_encoder/)")),
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert error.message == "text_encoder stage: images: this bundle has no image encoder (image_encoder/)"
    assert read_details(sent(error)).stage == "text_encoder"


@pytest.mark.parametrize(
    "failure",
    [
        sent(errors.Unavailable("decoder", "the model is still loading")),
        plain(grpc.StatusCode.UNAVAILABLE, "failed to connect to all addresses"),
        plain(grpc.StatusCode.CANCELLED, "cancelled by the server"),
    ],
    ids=["loading", "unreachable", "stopped"],
)
def test_a_stage_that_cannot_be_reached_is_unavailable_naming_it(failure):
    error = from_stage_failure("decoder", "decoder", failure)
    assert error.code == grpc.StatusCode.UNAVAILABLE
    assert error.message.startswith("decoder stage unavailable: ")
    assert read_details(sent(error)) == FailureDetails(reason="STAGE_UNAVAILABLE", stage="decoder")


def test_deadline_exceeded_stays_naming_the_stage():
    error = from_stage_failure("prior", "prior", sent(errors.DeadlineExceeded("too late")))
    assert (error.code, error.message) == (
        grpc.StatusCode.DEADLINE_EXCEEDED,
        "deadline exceeded in the prior stage",
    )
    assert read_details(sent(error)).stage == "prior"


def test_an_unreadable_details_trailer_reads_as_none():
    failure = grpc.aio.AioRpcError(
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.aio.Metadata(),
        grpc.aio.Metadata(("grpc-status-details-bin", b"\xff not a status")),
        details="bad",
    )
    assert read_details(failure) == FailureDetails()
    assert from_stage_failure("decoder", "decoder", failure).message == "decoder: bad"
