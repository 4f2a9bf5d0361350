"""gRPC's rich status (a google.rpc.Status in the `grpc-status-details-bin` trailer): how a server
attaches a failure's details and how a caller reads them back, so no hop parses a message.

The mesh sends three kinds of detail (docs/API.md, Errors): BadRequest, whose field violations name
the field path; RetryInfo, how long an overloaded server asks its caller to wait; and ErrorInfo,
why the call failed (`reason`) and which stage failed it (metadata `stage`).
"""

from collections.abc import Iterable
from dataclasses import dataclass

import grpc
from google.protobuf import any_pb2, message
from google.protobuf.duration_pb2 import Duration
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

DOMAIN = "unclip-mesh"  # ErrorInfo.domain: the mesh's own reasons


def status(code: grpc.StatusCode, text: str, details: Iterable[message.Message]) -> grpc.Status:
    """The status to abort a call with: `code`, `text` as its message and `details` packed in."""
    return rpc_status.to_status(
        status_pb2.Status(code=code.value[0], message=text, details=[_packed(detail) for detail in details])
    )


def _packed(detail: message.Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(detail)
    return packed


def field_violation(field: str, description: str) -> error_details_pb2.BadRequest:
    return error_details_pb2.BadRequest(
        field_violations=[error_details_pb2.BadRequest.FieldViolation(field=field, description=description)]
    )


def retry_info(seconds: float) -> error_details_pb2.RetryInfo:
    delay = Duration()
    delay.FromNanoseconds(round(seconds * 1e9))
    return error_details_pb2.RetryInfo(retry_delay=delay)


def error_info(reason: str, stage: str) -> error_details_pb2.ErrorInfo:
    return error_details_pb2.ErrorInfo(reason=reason, domain=DOMAIN, metadata={"stage": stage})


@dataclass(frozen=True)
class Violation:
    field: str
    description: str


@dataclass(frozen=True)
class FailureDetails:
    """What a failed call's rich status says; all empty when it carries none."""

    violations: tuple[Violation, ...] = ()
    retry_after_seconds: float | None = None
    reason: str | None = None  # ErrorInfo's, when its domain is the mesh's
    stage: str | None = None


def read_details(error: grpc.RpcError) -> FailureDetails:
    """The details of a failed call (sync or asyncio). A status whose trailer is missing, does not
    parse or disagrees with the call's code and message reads as carrying none."""
    try:
        rich = rpc_status.from_call(error)
        return _unpacked(rich.details if rich is not None else ())
    except (ValueError, message.DecodeError):
        return FailureDetails()


def _unpacked(details: Iterable[any_pb2.Any]) -> FailureDetails:
    violations: list[Violation] = []
    retry_after = reason = stage = None
    for detail in details:
        bad_request = error_details_pb2.BadRequest()
        retry = error_details_pb2.RetryInfo()
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(bad_request):
            violations.extend(Violation(v.field, v.description) for v in bad_request.field_violations)
        elif detail.Unpack(retry):
            retry_after = retry.retry_delay.ToNanoseconds() / 1e9
        elif detail.Unpack(info) and info.domain == DOMAIN:
            reason, stage = info.reason, info.metadata.get("stage")
    return FailureDetails(tuple(violations), retry_after, reason, stage)
