"""The model bundle's PersistentVolumeClaim, mounted read-only by every model stage."""

from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.stages import APP, NAME_LABEL

BUNDLE_CLAIM = "unclip-models"


def bundle_claim(options: RenderOptions) -> dict:
    spec: dict = {
        "accessModes": [options.profile.bundle_access_mode],
        "resources": {"requests": {"storage": options.profile.bundle_size}},
    }
    if options.storage_class:
        spec["storageClassName"] = options.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": BUNDLE_CLAIM,
            "namespace": options.target_namespace,
            "labels": {NAME_LABEL: APP},
        },
        "spec": spec,
    }
