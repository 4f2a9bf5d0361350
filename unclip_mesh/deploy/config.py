"""Per-stage ConfigMap: the UNCLIP_* runtime settings the stage server reads (see CONTRACTS.md)."""

import hashlib
import json

from services.stage_registry import GATEWAY, ORCHESTRATOR
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.stages import METRICS_PORT, grpc_port, labels, model_stages, object_name, serving_port

BUNDLE_MOUNT = "/models"
BUNDLE_PATH = f"{BUNDLE_MOUNT}/bundle"
MAX_CONNECTION_AGE_SECONDS = 300  # clients reconnect (and re-resolve) at least this often


def peers(options: RenderOptions) -> str:
    """UNCLIP_PEERS for the orchestrator: each stage's headless Service, resolved by DNS."""
    domain = f"{options.target_namespace}.svc.{options.cluster_domain}"
    return ";".join(
        f"{stage}=dns:///{object_name(stage)}.{domain}:{grpc_port(stage)}" for stage in model_stages()
    )


def orchestrator_target(options: RenderOptions) -> str:
    """UNCLIP_ORCHESTRATOR for the gateway: the orchestrator's Service."""
    domain = f"{options.target_namespace}.svc.{options.cluster_domain}"
    return f"dns:///{object_name(ORCHESTRATOR)}.{domain}:{grpc_port(ORCHESTRATOR)}"


def settings(stage: str, options: RenderOptions) -> dict[str, str]:
    profile = options.profile
    stage_profile = profile.stages[stage]
    shared = {
        "UNCLIP_HOST": "0.0.0.0",
        "UNCLIP_PORT": str(serving_port(stage)[1]),
        "UNCLIP_METRICS_PORT": str(METRICS_PORT),
        "UNCLIP_GRACE_SECONDS": str(stage_profile.grace_seconds),
    }
    if stage == GATEWAY:
        return {
            **shared,
            "UNCLIP_LOG_LEVEL": "info",
            "UNCLIP_MAX_IN_FLIGHT": str(stage_profile.max_queue),
            "UNCLIP_ORCHESTRATOR": orchestrator_target(options),
        }
    values = {
        **shared,
        "UNCLIP_MAX_CONNECTION_AGE_SECONDS": str(MAX_CONNECTION_AGE_SECONDS),
        "UNCLIP_MAX_QUEUE": str(stage_profile.max_queue),
        "UNCLIP_LOG_LEVEL": "info",
    }
    if stage == ORCHESTRATOR:
        return {**values, "UNCLIP_PEERS": peers(options)}
    return {
        **values,
        "UNCLIP_BUNDLE": BUNDLE_PATH,
        "UNCLIP_DEVICE": profile.device,
        "UNCLIP_MAX_BATCH_SIZE": str(stage_profile.max_batch_size),
        "UNCLIP_TORCH_THREADS": str(stage_profile.torch_threads),
    }


def config_map(stage: str, options: RenderOptions) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": object_name(stage),
            "namespace": options.target_namespace,
            "labels": labels(stage),
        },
        "data": settings(stage, options),
    }


def config_hash(config: dict) -> str:
    """Goes on the pod template, so that a changed ConfigMap rolls the Deployment."""
    return hashlib.sha256(json.dumps(config["data"], sort_keys=True).encode()).hexdigest()[:16]
