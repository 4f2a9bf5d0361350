"""PodDisruptionBudget and HorizontalPodAutoscaler of a stage, and the scaling annotations that
`deploy autoscale` reads from each Deployment (so both scalers share one set of bounds)."""

from services.deploy.options import RenderOptions
from services.deploy.stages import labels, object_name, selector

MIN_REPLICAS = "unclip-mesh/min-replicas"
MAX_REPLICAS = "unclip-mesh/max-replicas"
TARGET_LOAD = "unclip-mesh/target-load"
LOAD_METRIC = "unclip-mesh/load-metric"
CPU_FALLBACK_UTILIZATION = 80  # percent of the CPU request


def scaling_annotations(stage: str, options: RenderOptions) -> dict[str, str]:
    profile = options.profile.stages[stage]
    return {MIN_REPLICAS: str(profile.min_replicas), MAX_REPLICAS: str(profile.max_replicas),
            TARGET_LOAD: str(profile.target_load), LOAD_METRIC: options.load_metric}


def _metadata(stage: str, options: RenderOptions) -> dict:
    return {"name": object_name(stage), "namespace": options.target_namespace,
            "labels": labels(stage)}


def disruption_budget(stage: str, options: RenderOptions) -> dict:
    """One pod at a time may be evicted (a budget of minAvailable would block drains at 1 replica)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
            "metadata": _metadata(stage, options),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector(stage)},
                     "unhealthyPodEvictionPolicy": "AlwaysAllow"}}


def autoscaler(stage: str, options: RenderOptions) -> dict:
    """Scales on the stage's per-pod load (a custom metric) or, when that metric is missing, on CPU:
    the HPA acts on whichever metrics it can read and takes the largest proposal."""
    profile = options.profile.stages[stage]
    load = {"type": "Pods", "pods": {
        "metric": {"name": options.load_metric},
        "target": {"type": "AverageValue", "averageValue": str(profile.target_load)}}}
    cpu = {"type": "Resource", "resource": {
        "name": "cpu", "target": {"type": "Utilization",
                                  "averageUtilization": CPU_FALLBACK_UTILIZATION}}}
    return {"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": _metadata(stage, options),
            "spec": {
                "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment",
                                   "name": object_name(stage)},
                "minReplicas": profile.min_replicas, "maxReplicas": profile.max_replicas,
                "metrics": [load, cpu],
                "behavior": {
                    "scaleUp": {"stabilizationWindowSeconds": 0,
                                "policies": [{"type": "Pods", "value": 2, "periodSeconds": 60}]},
                    "scaleDown": {"stabilizationWindowSeconds": 300,
                                  "policies": [{"type": "Pods", "value": 1,
                                                "periodSeconds": 120}]}}}}
