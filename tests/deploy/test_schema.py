"""Every manifest we ship validates against its schemas, strictly (no unknown fields): the built-in
kinds against Kubernetes's with kubernetes-validate, KEDA's and the Prometheus Operator's against
their published CRD schemas (tests/deploy/custom_kinds.py)."""

import copy
import shutil
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from tests.deploy.custom_kinds import is_custom, schema_errors, unknown_field_errors
from tests.deploy.manifests import RENDERINGS, by_kind, rendered
from unclip_mesh.deploy.profiles import OVERLAYS

KUBERNETES_VERSION = kubernetes_validate.latest_version()
DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _validate_built_in(objects: list[dict]) -> None:
    for obj in objects:
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("name", sorted(RENDERINGS))
def test_rendered_built_in_kinds_validate_strictly(name):
    _validate_built_in([o for o in rendered(name) if not is_custom(o)])


def test_every_rendered_custom_kind_validates_against_its_crd_schema(tmp_path):
    custom = [o for name in sorted(RENDERINGS) for o in rendered(name) if is_custom(o)]
    assert {o["kind"] for o in custom} == {"ScaledObject", "PodMonitor", "PrometheusRule"}
    assert schema_errors(custom) == []
    assert unknown_field_errors(custom, tmp_path) == []


def test_strict_validation_rejects_an_unknown_field():
    deployment = next(o for o in rendered("gpu/hpa") if o["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["gpus"] = 1
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def _first(kind: str) -> dict:
    return copy.deepcopy(next(iter(by_kind(rendered("gpu/keda"), kind).values())))


def test_custom_kind_schemas_reject_a_wrong_type_and_a_bad_duration():
    scaled, rule = _first("ScaledObject"), _first("PrometheusRule")
    scaled["spec"]["pollingInterval"] = "15s"
    rule["spec"]["groups"][0]["rules"][0]["for"] = "ten minutes"
    errors = schema_errors([scaled, rule])
    assert len(errors) == 2
    assert errors[0].startswith("ScaledObject/") and "pollingInterval" in errors[0]
    assert errors[1].startswith("PrometheusRule/") and "/for" in errors[1]


def test_unknown_fields_of_custom_kinds_are_errors(tmp_path):
    monitor = _first("PodMonitor")
    monitor["spec"]["podMetricsEndpoint"] = monitor["spec"].pop("podMetricsEndpoints")
    assert schema_errors([monitor]) == []  # the schemas alone let it through
    (error,) = unknown_field_errors([monitor], tmp_path)
    assert error.startswith("PodMonitor/") and "podMetricsEndpoint" in error


def test_base_files_validate_strictly():
    for path in sorted((DEPLOY / "base").glob("*.yaml")):
        if path.name != "kustomization.yaml":
            _validate_built_in(list(yaml.safe_load_all(path.read_text())))


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_build_of_each_overlay_validates_strictly(overlay):
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    _validate_built_in(list(yaml.safe_load_all(built)))
