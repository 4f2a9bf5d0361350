"""The Deployment of a stage: one function for all seven (the gateway too), the profile decides
the differences."""

import math

from services.stage_registry import GATEWAY
from unclip_mesh.deploy.config import BUNDLE_MOUNT, config_hash, config_map
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.scaling import scaling_annotations
from unclip_mesh.deploy.stages import (
    METRICS_PORT,
    component,
    grpc_port,
    labels,
    model_stages,
    object_name,
    selector,
    serving_port,
)
from unclip_mesh.deploy.storage import BUNDLE_CLAIM

RUN_AS = 10001  # the image's unprivileged user
PRE_STOP_SECONDS = 5  # endpoints and DNS drop the pod before it stops taking calls
TERMINATION_MARGIN_SECONDS = 15  # over pre-stop + drain, so the kubelet never cuts a drain short
PROBE_PERIOD_SECONDS = 5
LIVENESS_PERIOD_SECONDS = 10
CONFIG_HASH = "unclip-mesh/config-hash"
GPU_RESOURCE = "nvidia.com/gpu"


def pod_security_context() -> dict:
    return {
        "runAsNonRoot": True,
        "runAsUser": RUN_AS,
        "runAsGroup": RUN_AS,
        "fsGroup": RUN_AS,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def container_security_context() -> dict:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def scratch_env() -> list[dict]:
    """The root filesystem is read-only: caches go to the /tmp emptyDir."""
    return [{"name": "HOME", "value": "/tmp"}, {"name": "XDG_CACHE_HOME", "value": "/tmp/cache"}]


def _health_checks(stage: str) -> tuple[dict, dict]:
    """(alive, ready). The gateway answers HTTP: /healthz while it runs, /readyz while it admits
    requests and the orchestrator is SERVING."""
    if stage == GATEWAY:
        return (
            {"httpGet": {"path": "/healthz", "port": "http"}},
            {"httpGet": {"path": "/readyz", "port": "http"}},
        )
    check = {"grpc": {"port": grpc_port(stage)}}
    return check, check


def _probes(stage: str, options: RenderOptions) -> dict:
    """Native gRPC health probes on grpc.health.v1 (service ""), HTTP ones for the gateway.
    Readiness follows NOT_SERVING during load and drain; liveness tolerates a whole drain, startup a
    whole model load."""
    alive, ready = _health_checks(stage)
    grace = options.profile.stages[stage].grace_seconds
    return {
        "startupProbe": {
            **alive,
            "periodSeconds": PROBE_PERIOD_SECONDS,
            "failureThreshold": options.profile.startup_seconds // PROBE_PERIOD_SECONDS,
        },
        "readinessProbe": {**ready, "periodSeconds": PROBE_PERIOD_SECONDS, "failureThreshold": 2},
        "livenessProbe": {
            **alive,
            "periodSeconds": LIVENESS_PERIOD_SECONDS,
            "timeoutSeconds": 5,
            "failureThreshold": math.ceil((PRE_STOP_SECONDS + grace) / LIVENESS_PERIOD_SECONDS) + 3,
        },
    }


def _resources(stage: str, options: RenderOptions) -> dict:
    profile = options.profile.stages[stage]
    requests = {"cpu": profile.cpu[0], "memory": profile.memory[0]}
    limits = {"cpu": profile.cpu[1], "memory": profile.memory[1]}
    if profile.gpus:
        requests[GPU_RESOURCE] = limits[GPU_RESOURCE] = str(profile.gpus)
    return {"requests": requests, "limits": limits}


def _placement(stage: str, options: RenderOptions) -> dict:
    """Node pool by nodeSelector; tolerations for the pool's and the GPU nodes' taints; spread
    over zones and nodes without ever blocking a schedule (GPU nodes are scarce)."""
    pool = options.node_pool(stage)
    tolerations = []
    if pool:
        tolerations.append(
            {"key": options.pool_label, "operator": "Equal", "value": pool, "effect": "NoSchedule"}
        )
    if options.profile.stages[stage].gpus:
        tolerations.append({"key": GPU_RESOURCE, "operator": "Exists", "effect": "NoSchedule"})
    spread = [
        {
            "maxSkew": 1,
            "topologyKey": key,
            "whenUnsatisfiable": "ScheduleAnyway",
            "labelSelector": {"matchLabels": selector(stage)},
            "matchLabelKeys": ["pod-template-hash"],
        }
        for key in ("topology.kubernetes.io/zone", "kubernetes.io/hostname")
    ]
    placement: dict = {"topologySpreadConstraints": spread}
    if pool:
        placement["nodeSelector"] = {options.pool_label: pool}
    if tolerations:
        placement["tolerations"] = tolerations
    return placement


def _volumes(stage: str, options: RenderOptions) -> tuple[list[dict], list[dict]]:
    volumes = [{"name": "tmp", "emptyDir": {"sizeLimit": options.profile.scratch_size}}]
    mounts: list[dict] = [{"name": "tmp", "mountPath": "/tmp"}]
    if stage in model_stages():
        volumes.append(
            {"name": "models", "persistentVolumeClaim": {"claimName": BUNDLE_CLAIM, "readOnly": True}}
        )
        mounts.append({"name": "models", "mountPath": BUNDLE_MOUNT, "readOnly": True})
    return volumes, mounts


def termination_grace_seconds(stage: str, options: RenderOptions) -> int:
    return PRE_STOP_SECONDS + options.profile.stages[stage].grace_seconds + TERMINATION_MARGIN_SECONDS


def deployment(stage: str, options: RenderOptions) -> dict:
    """No spec.replicas: the autoscaler owns the count, and an apply must not reset it."""
    volumes, mounts = _volumes(stage, options)
    container = {
        "name": component(stage),
        "image": options.stage_image(stage),
        "imagePullPolicy": "IfNotPresent",
        "args": ["serve", stage],
        "envFrom": [{"configMapRef": {"name": object_name(stage)}}],
        "env": scratch_env(),
        "ports": [
            {"name": serving_port(stage)[0], "containerPort": serving_port(stage)[1], "protocol": "TCP"},
            {"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"},
        ],
        **_probes(stage, options),
        "lifecycle": {"preStop": {"sleep": {"seconds": PRE_STOP_SECONDS}}},
        "resources": _resources(stage, options),
        "securityContext": container_security_context(),
        "volumeMounts": mounts,
    }
    pod_annotations = {
        CONFIG_HASH: config_hash(config_map(stage, options)),
        "prometheus.io/scrape": "true",
        "prometheus.io/port": str(METRICS_PORT),
        "prometheus.io/path": "/metrics",
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": object_name(stage),
            "namespace": options.target_namespace,
            "labels": labels(stage),
            "annotations": scaling_annotations(stage, options),
        },
        "spec": {
            "selector": {"matchLabels": selector(stage)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}},
            "revisionHistoryLimit": 5,
            "progressDeadlineSeconds": options.profile.startup_seconds * 2,
            "template": {
                "metadata": {"labels": labels(stage), "annotations": pod_annotations},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": termination_grace_seconds(stage, options),
                    "securityContext": pod_security_context(),
                    **_placement(stage, options),
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }
