"""`unclip-mesh certs OUT_DIR`: a development CA and a certificate per service, for mutual TLS.

Writes OUT_DIR/ca.pem and, per service (the five stages, the orchestrator and `client` for callers),
OUT_DIR/SERVICE/{tls.crt,tls.key,ca.crt}: the layout of a Kubernetes TLS secret, so a folder is
both `--tls-dir OUT_DIR/SERVICE` and `kubectl create secret generic ... --from-file=OUT_DIR/SERVICE`.
The CA's key is not kept: run the command again to issue new certificates.
"""

import os
from pathlib import Path

from services.stage_registry import GATEWAY, names


def _services() -> tuple[str, ...]:
    """Every gRPC process of the mesh (the gateway serves HTTP) and `client` for callers."""
    return (*(name for name in names() if name != GATEWAY), "client")


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("certs", help="write a development CA and per-service certificates")
    parser.add_argument("output", help="folder to write (created if missing)")
    parser.add_argument("--namespace", default="unclip", help="Kubernetes namespace of the services")
    parser.add_argument("--cluster-domain", default="cluster.local")
    parser.add_argument("--days", type=int, default=365, help="validity of every certificate")


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.write_bytes(data)
    if private:
        os.chmod(path, 0o600)


def run(args) -> int:
    from services.security.certificates import DevelopmentCA, kubernetes_names
    from services.security.tls import SECRET_FILES
    from unclip_mesh.deploy.stages import object_name

    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    ca = DevelopmentCA(args.days)
    _write(out / "ca.pem", ca.pem)
    for service in _services():
        names = ["localhost"]
        if service != "client":
            names += kubernetes_names(object_name(service), args.namespace, args.cluster_domain)
        issued = ca.issue(service, names)
        folder = out / service
        folder.mkdir(exist_ok=True)
        cert_file, key_file, ca_file = SECRET_FILES
        _write(folder / cert_file, issued.cert)
        _write(folder / key_file, issued.key, private=True)
        _write(folder / ca_file, ca.pem)
    print(f"wrote ca.pem and {len(_services())} certificate folders to {out}")
    return 0
