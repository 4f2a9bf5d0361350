"""Names every manifest shares: stage -> object name, labels, selectors, ports."""

from services import stage_registry
from services.stage_registry import GATEWAY

METRICS_PORT = 9090
APP = "unclip-mesh"
NAME_LABEL = "app.kubernetes.io/name"
COMPONENT_LABEL = "app.kubernetes.io/component"
STAGE_LABEL = "unclip-mesh/stage"
# Selects every stage Deployment and pod (label present, any stage).
ALL_STAGES_SELECTOR = f"{NAME_LABEL}={APP},{STAGE_LABEL}"


def component(stage: str) -> str:
    """The DNS-safe form of a stage name: `upsampler_256` -> `upsampler-256`."""
    return stage.replace("_", "-")


def object_name(stage: str) -> str:
    """Name of the stage's Deployment, Service, ConfigMap, PDB, HPA, ScaledObject and PodMonitor."""
    return f"unclip-{component(stage)}"


def all_stages() -> tuple[str, ...]:
    """Every process the manifests deploy, from the stage registry."""
    return stage_registry.names()


def model_stages() -> tuple[str, ...]:
    return stage_registry.model_stages()


def queued_stages() -> tuple[str, ...]:
    """Stages whose calls wait in a denoising queue (unclip_queue_depth); the others report 0 there."""
    return stage_registry.sampled_stages()


def grpc_port(stage: str) -> int:
    return stage_registry.get(stage).port


def serving_port(stage: str) -> tuple[str, int]:
    """The name and number of the port a stage serves its callers on: gRPC, HTTP for the gateway."""
    return ("http" if stage == GATEWAY else "grpc", stage_registry.get(stage).port)


def selector(stage: str) -> dict[str, str]:
    return {NAME_LABEL: APP, STAGE_LABEL: stage}


def labels(stage: str) -> dict[str, str]:
    return {**selector(stage), COMPONENT_LABEL: component(stage), "app.kubernetes.io/part-of": APP}


def stage_pod_selector(stage: str) -> str:
    return f"{NAME_LABEL}={APP},{STAGE_LABEL}={stage}"
