import json

import grpc
import pytest

from services.gateway.errors import from_status


@pytest.mark.parametrize("code, http_status, error_type", [
    (grpc.StatusCode.INVALID_ARGUMENT, 400, "invalid_request_error"),
    (grpc.StatusCode.FAILED_PRECONDITION, 400, "invalid_request_error"),
    (grpc.StatusCode.UNAUTHENTICATED, 401, "invalid_request_error"),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, "rate_limit_error"),
    (grpc.StatusCode.UNAVAILABLE, 503, "server_error"),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504, "server_error"),
    (grpc.StatusCode.INTERNAL, 500, "server_error")])
def test_statuses_map_to_the_apis(code, http_status, error_type):
    error = from_status(code, "details")
    body = json.loads(error.response().body)
    assert error.http_status == http_status and error.status == code.name
    assert body == {"error": {"message": "details", "type": error_type, "param": None,
                              "code": body["error"]["code"]}}


@pytest.mark.parametrize("details, param", [
    ("num_images: must be between 1 and 8", "n"), ("prompt: must not be empty", "prompt"),
    ("mask: the mask is empty", "mask"), ("decoder.num_inference_steps: too many", None)])
def test_invalid_argument_names_the_api_param(details, param):
    assert from_status(grpc.StatusCode.INVALID_ARGUMENT, details).param == param


@pytest.mark.parametrize("retry_after_ms, seconds", [("2500", 3), ("100", 1), (None, 1), ("x", 1)])
def test_retry_after_is_whole_seconds_rounded_up(retry_after_ms, seconds):
    error = from_status(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", retry_after_ms)
    assert error.response().headers["Retry-After"] == str(seconds)
