"""Errors in the Images API's shape: `{"error": {"message", "type", "param", "code"}}` with its HTTP
statuses, from the gateway's own checks and from the mesh's gRPC statuses.

Each error also keeps the gRPC status name it stands for, which the gateway's metrics count by, so
the refusal queries and alerts read the gateway as they read every stage.
"""

import math

import grpc
from aiohttp import web

from services.runtime.rich_status import FailureDetails, read_details

DEFAULT_RETRY_AFTER_SECONDS = 1  # for a RESOURCE_EXHAUSTED without RetryInfo
_NO_DETAILS = FailureDetails()

# The mesh's request fields, as the Images API names them.
_API_PARAMS = {"num_images": "n", "prompt": "prompt", "image": "image", "mask": "mask", "size": "size"}

# gRPC status -> HTTP status, error type, error code.
_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "invalid_request_error", None),
    grpc.StatusCode.FAILED_PRECONDITION: (400, "invalid_request_error", None),
    grpc.StatusCode.UNAUTHENTICATED: (401, "invalid_request_error", "invalid_api_key"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (429, "rate_limit_error", "rate_limit_exceeded"),
    grpc.StatusCode.UNAVAILABLE: (503, "server_error", "service_unavailable"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (504, "server_error", "timeout"),
    grpc.StatusCode.CANCELLED: (499, "server_error", "cancelled"),  # the caller is already gone
}
_INTERNAL = (500, "server_error", None)


class ApiError(Exception):
    """An error reply; `status` is the gRPC status name it counts as."""

    def __init__(
        self,
        http_status: int,
        message: str,
        *,
        error_type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        status: str = "INVALID_ARGUMENT",
        retry_after_seconds: int | None = None,
    ):
        super().__init__(message)
        self.http_status = http_status
        self.message = message
        self.error_type = error_type
        self.param = param
        self.code = code
        self.status = status
        self.retry_after_seconds = retry_after_seconds

    def response(self) -> web.Response:
        body = {
            "error": {
                "message": self.message,
                "type": self.error_type,
                "param": self.param,
                "code": self.code,
            }
        }
        headers = (
            {"Retry-After": str(self.retry_after_seconds)} if self.retry_after_seconds is not None else None
        )
        return web.json_response(body, status=self.http_status, headers=headers)


def bad_param(param: str, reason: str) -> ApiError:
    """400 for the caller's input, naming the API parameter."""
    return ApiError(400, f"{param}: {reason}", param=param)


def from_status(code: grpc.StatusCode, message: str, details: FailureDetails = _NO_DETAILS) -> ApiError:
    """The API error for a failed mesh call: INVALID_ARGUMENT names the API parameter of its field
    violation; RESOURCE_EXHAUSTED's RetryInfo becomes Retry-After, in whole seconds rounded up."""
    http_status, error_type, error_code = _BY_STATUS.get(code, _INTERNAL)
    param = None
    if code == grpc.StatusCode.INVALID_ARGUMENT and details.violations:  # "FIELD[.SUBFIELD]"
        param = _API_PARAMS.get(details.violations[0].field.split(".", 1)[0])
    retry_after = None
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry_after = max(1, math.ceil(details.retry_after_seconds or DEFAULT_RETRY_AFTER_SECONDS))
    return ApiError(
        http_status,
        message or code.name,
        error_type=error_type,
        param=param,
        code=error_code,
        status=code.name,
        retry_after_seconds=retry_after,
    )


def from_rpc_error(error: grpc.aio.AioRpcError) -> ApiError:
    return from_status(error.code(), error.details() or "", read_details(error))
