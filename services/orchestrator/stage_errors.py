"""A stage's gRPC failure, as the orchestrator's caller should see it."""

import grpc

from services.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    InvalidArgument,
    ResourceExhausted,
    StageError,
    Unavailable,
)

_STAGE_FIELD_PREFIX = "sampling."


def from_stage_failure(stage: str, field: str, error: grpc.aio.AioRpcError) -> StageError:
    """Maps a stage's status to the caller's: fields renamed to the public request's, stage named."""
    code, details = error.code(), error.details() or ""
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        if details.startswith(_STAGE_FIELD_PREFIX):
            name, _, reason = details[len(_STAGE_FIELD_PREFIX):].partition(": ")
            return InvalidArgument(f"{field}.{name}", reason)
        return InvalidArgument(field, details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(f"{stage} stage is overloaded: {details}")
    if code == grpc.StatusCode.FAILED_PRECONDITION:  # e.g. images sent to a checkpoint without image_encoder/
        return FailedPrecondition(f"{stage} stage: {details}")
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"deadline exceeded in the {stage} stage")
    return Unavailable(stage, details if code == grpc.StatusCode.UNAVAILABLE else f"{code.name}")
