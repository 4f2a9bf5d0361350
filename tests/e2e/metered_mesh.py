"""A local mesh whose processes each serve metrics on a port of their own."""

import socket
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from unclip_mesh.cli.local_mesh import LocalMesh


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MeteredMesh(LocalMesh):
    """Each process gets its own metrics port."""

    metrics_ports: dict[str, int]

    def spawn(self, stage, *args):
        self.metrics_ports = getattr(self, "metrics_ports", {})
        self.metrics_ports[stage] = free_port()
        return super().spawn(stage, *args, "--metrics-port", str(self.metrics_ports[stage]))

    def scrape(self) -> dict[str, dict[str, float]]:
        """Per service: sample name + sorted labels -> value."""
        samples = {}
        for service, port in self.metrics_ports.items():
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
                text = reply.read().decode()
            samples[service] = {
                f"{s.name}{sorted(s.labels.items())}": s.value
                for family in text_string_to_metric_families(text)
                for s in family.samples
            }
        return samples
