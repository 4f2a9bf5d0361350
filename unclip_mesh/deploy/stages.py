"""Names every manifest shares: stage -> object name, labels, selectors, ports."""

from services.gateway.settings import GATEWAY_PORT
from services.runtime.settings import STAGE_PORTS

ORCHESTRATOR = "orchestrator"
GATEWAY = "gateway"  # the OpenAI Images API over HTTP, in front of the orchestrator
MODEL_STAGES = ("text_encoder", "prior", "decoder", "upsampler_256", "upsampler_1024")
ALL_STAGES = (*MODEL_STAGES, ORCHESTRATOR, GATEWAY)
# Stages whose calls wait in a denoising queue (unclip_queue_depth); the others report 0 there.
QUEUED_STAGES = ("prior", "decoder", "upsampler_256", "upsampler_1024")
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


def grpc_port(stage: str) -> int:
    return STAGE_PORTS[stage]


def serving_port(stage: str) -> tuple[str, int]:
    """The name and number of the port a stage serves its callers on: gRPC, HTTP for the gateway."""
    return ("http", GATEWAY_PORT) if stage == GATEWAY else ("grpc", grpc_port(stage))


def selector(stage: str) -> dict[str, str]:
    return {NAME_LABEL: APP, STAGE_LABEL: stage}


def labels(stage: str) -> dict[str, str]:
    return {**selector(stage), COMPONENT_LABEL: component(stage), "app.kubernetes.io/part-of": APP}


def stage_pod_selector(stage: str) -> str:
    return f"{NAME_LABEL}={APP},{STAGE_LABEL}={stage}"
