"""PodDisruptionBudget and HorizontalPodAutoscaler of a stage, the scale-up/down pace that the HPA
and KEDA's ScaledObject share, and which gauge is a stage's load."""

from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.queries import INFLIGHT
from unclip_mesh.deploy.stages import labels, object_name, queued_stages, selector

LOAD_METRIC = "unclip-mesh/load-metric"  # annotation `deploy status` reads
CPU_FALLBACK_UTILIZATION = 80  # percent of the CPU request


def load_metric(stage: str, options: RenderOptions) -> str:
    """The chosen gauge; stages without a denoising queue (their queue depth is always 0) scale
    on their in-flight calls whatever was chosen."""
    return options.load_metric if stage in queued_stages() else INFLIGHT


def scaling_annotations(stage: str, options: RenderOptions) -> dict[str, str]:
    return {LOAD_METRIC: load_metric(stage, options)}


def _metadata(stage: str, options: RenderOptions) -> dict:
    return {"name": object_name(stage), "namespace": options.target_namespace, "labels": labels(stage)}


def disruption_budget(stage: str, options: RenderOptions) -> dict:
    """One pod at a time may be evicted (a budget of minAvailable would block drains at 1 replica)."""
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _metadata(stage, options),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": selector(stage)},
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }


def scale_target(stage: str) -> dict:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": object_name(stage)}


def behavior() -> dict:
    """Up at once (at most 2 pods a minute); down after 5 minutes, one pod per 2 minutes: a GPU pod
    takes minutes to load its model."""
    return {
        "scaleUp": {
            "stabilizationWindowSeconds": 0,
            "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}],
        },
        "scaleDown": {
            "stabilizationWindowSeconds": 300,
            "policies": [{"type": "Pods", "value": 1, "periodSeconds": 120}],
        },
    }


def autoscaler(stage: str, options: RenderOptions) -> dict:
    """Scales on the stage's per-pod load (a custom metric) or, when that metric is missing, on CPU:
    the HPA acts on whichever metrics it can read and takes the largest proposal."""
    profile = options.profile.stages[stage]
    load = {
        "type": "Pods",
        "pods": {
            "metric": {"name": load_metric(stage, options)},
            "target": {"type": "AverageValue", "averageValue": str(profile.target_load)},
        },
    }
    cpu = {
        "type": "Resource",
        "resource": {
            "name": "cpu",
            "target": {"type": "Utilization", "averageUtilization": CPU_FALLBACK_UTILIZATION},
        },
    }
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": _metadata(stage, options),
        "spec": {
            "scaleTargetRef": scale_target(stage),
            "minReplicas": profile.min_replicas,
            "maxReplicas": profile.max_replicas,
            "metrics": [load, cpu],
            "behavior": behavior(),
        },
    }
