"""A mesh (text encoder, prior, decoder, orchestrator) with mutual TLS everywhere and caller tokens.

Each stage reads its own certificate folder (`--tls-dir`, the layout of a mounted secret); the
orchestrator takes three files by flag. Logs are at debug level so the token test sees everything.
"""

import subprocess
import sys
from pathlib import Path

import grpc
import pytest

from services.security.tls import SECRET_FILES
from tests.stage_fixtures import tiny_bundle  # noqa: F401
from unclip_mesh.cli.local_mesh import LocalMesh

TOKEN = "s3cret-token-that-must-never-be-logged"
WRONG_TOKEN = "a-wrong-token-that-must-never-be-logged"


def write_certs(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "unclip_mesh.cli.main", "certs", str(folder)], check=True, capture_output=True
    )
    return folder


def credentials(certs: Path, service: str = "client") -> grpc.ChannelCredentials:
    """`service`'s certificate and CA from a `unclip-mesh certs` folder, as a caller's credentials."""
    cert, key, ca = ((certs / service / name).read_bytes() for name in SECRET_FILES)
    return grpc.ssl_channel_credentials(ca, key, cert)


class SecureMesh(LocalMesh):
    def __init__(self, bundle, certs: Path, tokens: Path):
        orchestrator = certs / "orchestrator"
        super().__init__(
            bundle,
            stages=("text_encoder", "prior", "decoder"),
            stage_args=("--torch-threads", "1", "--log-level", "debug"),
            orchestrator_args=(
                "--tls-cert",
                str(orchestrator / "tls.crt"),
                "--tls-key",
                str(orchestrator / "tls.key"),
                "--tls-ca",
                str(certs / "ca.pem"),
                "--auth-tokens-file",
                str(tokens),
                "--log-level",
                "debug",
            ),
        )
        self.certs = certs

    def spawn(self, stage, *args):
        if stage == "orchestrator":
            return super().spawn(stage, *args)
        return super().spawn(stage, *args, "--tls-dir", str(self.certs / stage))


@pytest.fixture(scope="package")
def certs(tmp_path_factory) -> Path:
    return write_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="package")
def secure_mesh(tiny_bundle, certs, tmp_path_factory):  # noqa: F811
    tokens = tmp_path_factory.mktemp("tokens") / "tokens.txt"
    tokens.write_text(f"# callers\n{TOKEN}\n\nsecond-token\n")
    with SecureMesh(tiny_bundle.root, certs, tokens) as mesh:
        yield mesh
