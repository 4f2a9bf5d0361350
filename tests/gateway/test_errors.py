import json

import grpc
import pytest

from services.gateway.errors import from_status
from services.runtime.rich_status import FailureDetails, Violation


@pytest.mark.parametrize(
    "code, http_status, error_type",
    [
        (grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error"),
        (grpc.StatusCode.FAILED_PRECONDITION, 400, "invalid_request_error"),
        (grpc.StatusCode.UNAUTHENTICATED, 401, "invalid_request_error"),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "rate_limit_error"),
        (grpc.StatusCode.UNAVAILABLE, 503, "server_error"),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "server_error"),
        (grpc.StatusCode.INTERNAL, 500, "server_error"),
    ],
)
def test_statuses_map_to_the_apis(code, http_status, error_type):
    error = from_status(code, "details")
    body = json.loads(error.response().body)
    assert error.http_status == http_status and error.status == code.name
    assert body == {
        "error": {"message": "details", "type": error_type, "param": None, "code": body["error"]["code"]}
    }


@pytest.mark.parametrize(
    "field, param",
    [
        ("num_images", "n"),
        ("prompt", "prompt"),
        ("mask", "mask"),
        ("image.encoded", "image"),
        ("decoder.num_inference_steps", None),
    ],
)
def test_invalid_argument_names_the_api_param_of_its_field_violation(field, param):
    details = FailureDetails(violations=(Violation(field, "is wrong"),))
    assert from_status(grpc.StatusCode.INVALID_ARGUMENT, f"{field}: is wrong", details).param == param


def test_the_message_is_never_parsed_for_a_param():
    assert from_status(grpc.StatusCode.INVALID_ARGUMENT, "prompt: must not be empty").param is None


@pytest.mark.parametrize("retry_after_seconds, header", [(2.5, "3"), (0.1, "1"), (None, "1"), (4.0, "4")])
def test_retry_after_is_retry_info_in_whole_seconds_rounded_up(retry_after_seconds, header):
    details = FailureDetails(retry_after_seconds=retry_after_seconds)
    error = from_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", details)
    assert error.response().headers["Retry-After"] == header


def test_only_resource_exhausted_asks_to_retry_after():
    details = FailureDetails(retry_after_seconds=2.0)
    assert "Retry-After" not in from_status(grpc.StatusCode.UNAVAILABLE, "down", details).response().headers
