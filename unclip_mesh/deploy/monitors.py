"""A PodMonitor per stage: the Prometheus Operator scrapes each pod's `metrics` port. Pods, not
Services, because the model stages' Services are headless and carry only the gRPC port."""

from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.stages import labels, object_name, selector

SCRAPE_INTERVAL = "15s"


def pod_monitor(stage: str, options: RenderOptions) -> dict:
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PodMonitor",
        "metadata": {
            "name": object_name(stage),
            "namespace": options.target_namespace,
            "labels": labels(stage),
        },
        "spec": {
            "selector": {"matchLabels": selector(stage)},
            "podMetricsEndpoints": [{"port": "metrics", "path": "/metrics", "interval": SCRAPE_INTERVAL}],
        },
    }
