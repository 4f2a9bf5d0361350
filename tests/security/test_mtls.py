"""Mutual TLS between every service: only clients with a certificate of the mesh's CA get in."""

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from tests.security.conftest import TOKEN, credentials, write_certs
from unclip_mesh.client.sdk import GenerationClient, Sampling

pytestmark = pytest.mark.e2e

FAST = {"prior": Sampling(steps=2), "decoder": Sampling(steps=2)}


def _health(channel: grpc.Channel) -> int:
    return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def test_generation_works_over_mutual_tls(secure_mesh, certs):
    with GenerationClient(secure_mesh.target, token=TOKEN, credentials=credentials(certs)) as client:
        assert client.generate("a red circle", seed=1, size=64, stages=FAST, timeout=60).size == 64


@pytest.fixture(scope="module")
def stranger_certs(tmp_path_factory):
    return write_certs(tmp_path_factory.mktemp("stranger"))


@pytest.mark.parametrize("service", ["decoder", "orchestrator"])
def test_clients_without_a_valid_certificate_are_refused(secure_mesh, certs, stranger_certs, service):
    process = (
        secure_mesh.orchestrator if service == "orchestrator" else secure_mesh.stage_processes(service)[0]
    )
    ca = (certs / "ca.pem").read_bytes()
    refused = {
        "plaintext": grpc.insecure_channel(process.address),
        "TLS without a client certificate": grpc.secure_channel(
            process.address, grpc.ssl_channel_credentials(root_certificates=ca)
        ),
        "a certificate of another CA": grpc.secure_channel(
            process.address,
            grpc.ssl_channel_credentials(
                ca, *((stranger_certs / "client" / name).read_bytes() for name in ("tls.key", "tls.crt"))
            ),
        ),
    }
    for what, channel in refused.items():
        with channel, pytest.raises(grpc.RpcError) as error:
            _health(channel)
        assert error.value.code() == grpc.StatusCode.UNAVAILABLE, what
    with grpc.secure_channel(process.address, credentials(certs)) as channel:
        assert _health(channel) == health_pb2.HealthCheckResponse.SERVING
