"""The orchestrator's callers need a bearer token; tokens never reach a log."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.security.conftest import TOKEN, WRONG_TOKEN, credentials
from unclip.v1 import generation_pb2, generation_pb2_grpc

pytestmark = pytest.mark.e2e

EMPTY_PROMPT = generation_pb2.GenerateImagesRequest(prompt="")  # refused before any stage is called


def _code(channel: grpc.Channel, metadata: tuple = ()) -> grpc.StatusCode:
    try:
        list(
            generation_pb2_grpc.GenerationServiceStub(channel).GenerateImages(
                EMPTY_PROMPT, metadata=metadata, timeout=30
            )
        )
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.fixture
def channel(secure_mesh, certs):
    with grpc.secure_channel(secure_mesh.target, credentials(certs)) as channel:
        yield channel


@pytest.mark.parametrize(
    "metadata",
    [
        (),
        (("authorization", f"Bearer {WRONG_TOKEN}"),),
        (("authorization", TOKEN),),  # no scheme
        (("authorization", f"Bearer {TOKEN}x"),),
        (("authorization", "Bearer "),),
    ],
    ids=["none", "wrong", "no-scheme", "longer", "empty"],
)
def test_no_or_a_wrong_token_is_unauthenticated(channel, metadata):
    assert _code(channel, metadata) == grpc.StatusCode.UNAUTHENTICATED


@pytest.mark.parametrize("token", [TOKEN, "second-token"])
def test_every_token_of_the_file_is_accepted(channel, token):
    # Past authentication, the empty prompt is the request's own fault.
    assert _code(channel, (("authorization", f"bearer {token}"),)) == grpc.StatusCode.INVALID_ARGUMENT


def test_health_needs_no_token(channel):
    status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert status.status == health_pb2.HealthCheckResponse.SERVING


def test_tokens_never_reach_a_log(secure_mesh, channel):
    for token in (TOKEN, WRONG_TOKEN):
        _code(channel, (("authorization", f"Bearer {token}"),))
    logged = "\n".join(
        line for process in (secure_mesh.orchestrator, *secure_mesh.processes) for line in process.stderr_tail
    )
    assert "unauthenticated call" in logged  # the refusals were logged, without their tokens
    assert TOKEN not in logged and WRONG_TOKEN not in logged
