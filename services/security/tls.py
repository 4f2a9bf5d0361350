"""gRPC credentials for mutual TLS, from PEM files named by the settings.

A process takes its certificate, key and CA either as three files (`--tls-cert`, `--tls-key`,
`--tls-ca`) or as one mounted directory (`--tls-dir`) in the layout of a Kubernetes TLS secret:
`tls.crt`, `tls.key`, `ca.crt`. The same certificate serves (the stage's server) and identifies the
process as a client (the orchestrator's channels), so certificates carry both key usages.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import grpc

SECRET_FILES = ("tls.crt", "tls.key", "ca.crt")  # cert, key, CA inside a --tls-dir


@dataclass(frozen=True)
class TlsMaterial:
    """The PEM bytes of one process's identity and of the CA it trusts."""

    cert: bytes
    key: bytes
    ca: bytes


class TlsSettings(Protocol):
    """The settings load_tls reads (a stage's ServerSettings, the gateway's GatewaySettings)."""

    @property
    def tls_cert(self) -> str | None: ...
    @property
    def tls_key(self) -> str | None: ...
    @property
    def tls_ca(self) -> str | None: ...
    @property
    def tls_dir(self) -> str | None: ...


def load_tls(settings: TlsSettings) -> TlsMaterial | None:
    """The material named by the TLS settings; None when TLS is off (none given).

    Raises ValueError when only some of the three files are named or a file cannot be read.
    """
    named = {"--tls-cert": settings.tls_cert, "--tls-key": settings.tls_key, "--tls-ca": settings.tls_ca}
    directory = settings.tls_dir
    if directory is not None:
        if any(named.values()):
            raise ValueError("--tls-dir excludes --tls-cert, --tls-key and --tls-ca")
        named = {f"--tls-dir {name}": str(Path(directory) / name) for name in SECRET_FILES}
    if not any(named.values()):
        return None
    given = {flag: path for flag, path in named.items() if path}
    missing = [flag for flag in named if flag not in given]
    if missing:
        raise ValueError(f"TLS needs a certificate, a key and a CA; missing {', '.join(missing)}")
    contents = []
    for flag, path in given.items():
        try:
            contents.append(Path(path).read_bytes())
        except OSError as error:
            raise ValueError(f"{flag}: cannot read {path}: {error.strerror}") from None
    return TlsMaterial(*contents)


def server_credentials(tls: TlsMaterial) -> grpc.ServerCredentials:
    """Serves with the process's certificate; callers must present one signed by the CA."""
    return grpc.ssl_server_credentials(
        [(tls.key, tls.cert)], root_certificates=tls.ca, require_client_auth=True
    )


def channel_credentials(tls: TlsMaterial) -> grpc.ChannelCredentials:
    """Trusts servers signed by the CA and presents the process's certificate to them."""
    return grpc.ssl_channel_credentials(
        root_certificates=tls.ca, private_key=tls.key, certificate_chain=tls.cert
    )
