"""Services and NetworkPolicies.

Model stages get headless Services: DNS returns every ready pod, the orchestrator's round_robin
channel spreads calls over them, and servers' max connection age makes it re-resolve so new pods
get traffic. Callers reach the orchestrator (gRPC) and the gateway (HTTP, the OpenAI Images API)
through ordinary ClusterIP Services. Only the orchestrator may call the stages; metrics ports are
open to namespaces labelled as metrics scrapers (where Prometheus runs).
"""

from services.stage_registry import GATEWAY, ORCHESTRATOR
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.stages import (
    APP,
    NAME_LABEL,
    STAGE_LABEL,
    labels,
    model_stages,
    object_name,
    selector,
    serving_port,
)

SCRAPER_NAMESPACE_LABEL = "unclip-mesh/metrics-scraper"
STAGES_POLICY = "unclip-stages"
ORCHESTRATOR_POLICY = "unclip-orchestrator"
GATEWAY_POLICY = "unclip-gateway"


def service(stage: str, options: RenderOptions) -> dict:
    name, port = serving_port(stage)
    spec: dict = {
        "selector": selector(stage),
        "ports": [
            {
                "name": name,
                "port": port,
                "targetPort": name,
                "protocol": "TCP",
                "appProtocol": "http" if stage == GATEWAY else "kubernetes.io/h2c",
            }
        ],
    }
    if stage in model_stages():
        spec["clusterIP"] = "None"
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": object_name(stage),
            "namespace": options.target_namespace,
            "labels": labels(stage),
        },
        "spec": spec,
    }


def _metrics_ingress() -> dict:
    return {
        "from": [{"namespaceSelector": {"matchLabels": {SCRAPER_NAMESPACE_LABEL: "true"}}}],
        "ports": [{"port": "metrics", "protocol": "TCP"}],
    }


def _policy(name: str, pods: dict, ingress: list[dict], options: RenderOptions) -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": name, "namespace": options.target_namespace, "labels": {NAME_LABEL: APP}},
        "spec": {"podSelector": pods, "policyTypes": ["Ingress"], "ingress": ingress},
    }


def network_policies(options: RenderOptions) -> list[dict]:
    stages = {
        "matchLabels": {NAME_LABEL: APP},
        "matchExpressions": [{"key": STAGE_LABEL, "operator": "In", "values": list(model_stages())}],
    }
    from_orchestrator = {
        "from": [{"podSelector": {"matchLabels": selector(ORCHESTRATOR)}}],
        "ports": [{"port": "grpc", "protocol": "TCP"}],
    }
    return [
        _policy(STAGES_POLICY, stages, [from_orchestrator, _metrics_ingress()], options),
        *(
            _policy(
                name,
                {"matchLabels": selector(stage)},
                [{"ports": [{"port": serving_port(stage)[0], "protocol": "TCP"}]}, _metrics_ingress()],
                options,
            )
            for name, stage in ((ORCHESTRATOR_POLICY, ORCHESTRATOR), (GATEWAY_POLICY, GATEWAY))
        ),
    ]
