"""Manifests of the in-cluster stage autoscaler (`--scaler controller`): its ServiceAccount, the
least RBAC it needs (list pods and deployments, patch deployments/scale) and its Deployment."""

from services.deploy.options import RenderOptions
from services.deploy.stages import APP, AUTOSCALER_COMPONENT, COMPONENT_LABEL, NAME_LABEL
from services.deploy.workloads import (container_security_context, pod_security_context,
                                       scratch_env)

NAME = "unclip-autoscaler"
LABELS = {NAME_LABEL: APP, COMPONENT_LABEL: AUTOSCALER_COMPONENT}
RULES = [
    {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]},
    {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list"]},
    {"apiGroups": ["apps"], "resources": ["deployments/scale"], "verbs": ["get", "patch"]},
]


def _metadata(options: RenderOptions) -> dict:
    return {"name": NAME, "namespace": options.target_namespace, "labels": LABELS}


def controller_objects(options: RenderOptions) -> list[dict]:
    namespace = options.target_namespace
    container = {
        "name": "autoscaler", "image": options.target_image, "imagePullPolicy": "IfNotPresent",
        "args": ["deploy", "autoscale", "--namespace", namespace, "--metrics-via", "direct"],
        "env": scratch_env(),
        "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                      "limits": {"cpu": "500m", "memory": "256Mi"}},
        "securityContext": container_security_context(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _metadata(options),
        "spec": {"replicas": 1, "strategy": {"type": "Recreate"},
                 "selector": {"matchLabels": LABELS},
                 "template": {"metadata": {"labels": LABELS}, "spec": {
                     "serviceAccountName": NAME,
                     "securityContext": pod_security_context(),
                     "containers": [container],
                     "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]}}}}
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(options)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": _metadata(options), "rules": RULES},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": _metadata(options),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": NAME},
         "subjects": [{"kind": "ServiceAccount", "name": NAME, "namespace": namespace}]},
        deployment,
    ]
