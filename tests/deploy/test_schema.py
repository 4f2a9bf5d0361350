"""Every manifest we ship validates against the Kubernetes schemas, strictly (no unknown fields)."""

import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from services.deploy.profiles import OVERLAYS
from tests.deploy.manifests import RENDERINGS, rendered

KUBERNETES_VERSION = kubernetes_validate.latest_version()
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _validate_all(objects: list[dict]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_rendered_manifests_validate_strictly(name):
    _validate_all(rendered(name))


def test_strict_validation_rejects_an_unknown_field():
    deployment = next(o for o in rendered("gpu/hpa") if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_base_files_validate_strictly():
    for path in sorted((DEPLOY / "base").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            _validate_all(list(yaml.safe_load_all(path.read_text())))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_build_of_each_overlay_validates_strictly(overlay):
    built = subprocess.run(["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
                           check=True, capture_output=True, text=True).stdout
    _validate_all(list(yaml.safe_load_all(built)))
