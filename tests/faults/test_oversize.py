"""Messages over the size limit (--max-message-mb 2 in this mesh): a clean RESOURCE_EXHAUSTED, and
the server answers the next small request."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.faults.conftest import request
from unclip.v1 import generation_pb2_grpc

pytestmark = pytest.mark.e2e

OVER = 3 * 2**20


def test_an_oversized_generation_request(mesh):
    with grpc.insecure_channel(mesh.target, options=[("grpc.max_send_message_length", -1)]) as channel:
        stub = generation_pb2_grpc.GenerationServiceStub(channel)
        with pytest.raises(grpc.RpcError) as error:
            list(stub.GenerateImages(request(prompt="x" * OVER), timeout=30))
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert list(stub.GenerateImages(request(), timeout=60))[-1].event.HasField("result")


@pytest.mark.parametrize(
    "method", ["/unclip.v1.DecoderService/DecodeImage", "/unclip.v1.TextEncoderService/EncodeImage"]
)
def test_an_oversized_stage_message(mesh, method):
    stage = "decoder" if "Decoder" in method else "text_encoder"
    address = mesh.stage_processes(stage)[0].address
    with grpc.insecure_channel(address, options=[("grpc.max_send_message_length", -1)]) as channel:
        call = (channel.unary_stream if stage == "decoder" else channel.unary_unary)(method)
        with pytest.raises(grpc.RpcError) as error:
            response = call(b"\x0a" + b"\xff" * OVER, timeout=30)
            list(response) if stage == "decoder" else response
        assert error.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        with pytest.raises(grpc.RpcError) as small:  # a small (malformed) request is answered
            response = call(b"\xff", timeout=30)
            list(response) if stage == "decoder" else response
        assert small.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert status.status == health_pb2.HealthCheckResponse.SERVING
