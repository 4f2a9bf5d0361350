"""Stand-ins for the kubernetes client: autospecced APIs (a wrong argument name fails) and plain
objects shaped like the client's models."""

from types import SimpleNamespace
from unittest.mock import create_autospec

from kubernetes.client import AppsV1Api, CoreV1Api
from kubernetes.dynamic import DynamicClient

from unclip_mesh.deploy.stages import labels, object_name


def apps_api(*deployments) -> AppsV1Api:
    apps = create_autospec(AppsV1Api, instance=True)
    apps.list_namespaced_deployment.return_value = SimpleNamespace(items=list(deployments))
    return apps


def core_api(*pods) -> CoreV1Api:
    core = create_autospec(CoreV1Api, instance=True)
    core.list_namespaced_pod.return_value = SimpleNamespace(items=list(pods))
    return core


def dynamic_client() -> DynamicClient:
    dynamic = create_autospec(DynamicClient, instance=True)
    dynamic.resources.get.side_effect = lambda api_version, kind: f"resource:{api_version}/{kind}"
    return dynamic


def deployment(
    stage: str,
    replicas: int,
    ready: int | None = None,
    min_replicas: int = 1,
    max_replicas: int = 10,
    target: float = 4,
    annotations: dict | None = None,
):
    if annotations is None:
        annotations = {
            "unclip-mesh/min-replicas": str(min_replicas),
            "unclip-mesh/max-replicas": str(max_replicas),
            "unclip-mesh/target-load": str(target),
            "unclip-mesh/load-metric": "unclip_inflight_requests",
        }
    return SimpleNamespace(
        metadata=SimpleNamespace(name=object_name(stage), labels=labels(stage), annotations=annotations),
        spec=SimpleNamespace(replicas=replicas),
        status=SimpleNamespace(ready_replicas=ready),
    )


def pod(name: str, ip: str = "10.0.0.1", ready: bool = True, namespace: str = "unclip"):
    condition = SimpleNamespace(type="Ready", status="True" if ready else "False")
    return SimpleNamespace(
        metadata=SimpleNamespace(name=name, namespace=namespace),
        status=SimpleNamespace(pod_ip=ip, conditions=[condition]),
    )
