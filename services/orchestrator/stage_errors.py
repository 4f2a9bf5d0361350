"""A stage's gRPC failure, as the orchestrator's caller should see it (docs/API.md, Errors).

Read from the stage's rich status, never parsed out of its message: a field violation's path is put
in the caller's request, a retry delay is passed on, and every error names the stage (ErrorInfo).
A stage's bug stays INTERNAL: UNAVAILABLE, which tells callers to retry, is only for a stage that
cannot be reached.
"""

import grpc

from services.runtime.errors import (
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    ResourceExhausted,
    StageError,
    Unavailable,
)
from services.runtime.rich_status import read_details

DEFAULT_RETRY_AFTER_SECONDS = 1.0  # for an overloaded stage that sent no RetryInfo

_UNREACHABLE = (
    grpc.StatusCode.UNAVAILABLE,  # down, restarting or draining
    grpc.StatusCode.CANCELLED,
)  # stopped with the call still running


def request_path(field: str, stage_path: str) -> str:
    """A stage request's field path in the caller's request: the stage's `sampling` is `field`
    itself (the request's knobs for that stage, e.g. `decoder`); its other fields lie under `field`."""
    head, dot, rest = stage_path.partition(".")
    if head == "sampling":
        return f"{field}{dot}{rest}"
    return f"{field}.{stage_path}" if stage_path else field


def from_stage_failure(stage: str, field: str, error: grpc.aio.AioRpcError) -> StageError:
    """Maps a stage's status to the caller's; `field` is the request field the stage call serves."""
    code, text = error.code(), error.details() or ""
    details = read_details(error)
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        if not details.violations:  # a status without details (grpc's own): the stage's message
            return InvalidArgument(field, text, stage=stage)
        violation = details.violations[0]
        return InvalidArgument(request_path(field, violation.field), violation.description, stage=stage)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return ResourceExhausted(
            f"{stage} stage is overloaded: {text}",
            details.retry_after_seconds or DEFAULT_RETRY_AFTER_SECONDS,
            stage=stage,
        )
    if code == grpc.StatusCode.FAILED_PRECONDITION:  # e.g. images sent to a checkpoint without image_encoder/
        return FailedPrecondition(f"{stage} stage: {text}", stage=stage)
    if code == grpc.StatusCode.DEADLINE_EXCEEDED:
        return DeadlineExceeded(f"deadline exceeded in the {stage} stage", stage=stage)
    if code in _UNREACHABLE:
        return Unavailable(stage, text or code.name)
    # INTERNAL, and codes a sound mesh never sends (UNKNOWN, UNIMPLEMENTED, ...): a bug, not a retry.
    return Internal(stage, text if code == grpc.StatusCode.INTERNAL else f"{code.name}: {text}")
