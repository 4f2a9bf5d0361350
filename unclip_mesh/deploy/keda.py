"""KEDA's ScaledObject of a stage (`--scaler keda`): the HPA's policy without a metrics adapter.

KEDA asks Prometheus for the stage's total load and, with the AverageValue metric type, divides it
by the replicas, as the HPA's Pods metric does; a CPU trigger keeps the HPA's fallback. KEDA makes
and owns an HPA of its own from this object, with the same bounds and pace as `--scaler hpa`.
"""

from unclip_mesh.deploy import queries
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.scaling import CPU_FALLBACK_UTILIZATION, behavior, load_metric, scale_target
from unclip_mesh.deploy.stages import labels, object_name

POLLING_SECONDS = 15
# Only scaling to and from zero waits for it; the bounds here never reach zero (a model takes
# minutes to load), so KEDA's HPA behaviour below is the cooldown that applies.
COOLDOWN_SECONDS = 300
ACTIVATION_LOAD = 0  # active (as KEDA reports it) from the first call in flight


def prometheus_trigger(stage: str, options: RenderOptions) -> dict:
    profile = options.profile.stages[stage]
    scope = queries.Scope(stage, options.target_namespace)
    return {
        "type": "prometheus",
        "name": "load",
        "metricType": "AverageValue",
        "metadata": {
            "serverAddress": options.prometheus_url,
            "query": queries.load(load_metric(stage, options), scope),
            "threshold": str(profile.target_load),
            "activationThreshold": str(ACTIVATION_LOAD),
            # no series is an error, not a load of 0: the CPU trigger decides then
            "ignoreNullValues": "false",
        },
    }


def scaled_object(stage: str, options: RenderOptions) -> dict:
    profile = options.profile.stages[stage]
    cpu = {
        "type": "cpu",
        "name": "cpu",
        "metricType": "Utilization",
        "metadata": {"value": str(CPU_FALLBACK_UTILIZATION)},
    }
    return {
        "apiVersion": "keda.sh/v1alpha1",
        "kind": "ScaledObject",
        "metadata": {
            "name": object_name(stage),
            "namespace": options.target_namespace,
            "labels": labels(stage),
        },
        "spec": {
            "scaleTargetRef": scale_target(stage),
            "minReplicaCount": profile.min_replicas,
            "maxReplicaCount": profile.max_replicas,
            "pollingInterval": POLLING_SECONDS,
            "cooldownPeriod": COOLDOWN_SECONDS,
            "advanced": {"horizontalPodAutoscalerConfig": {"behavior": behavior()}},
            "triggers": [prometheus_trigger(stage, options), cpu],
        },
    }
