"""Helpers for reading rendered manifests in tests."""

from unclip_mesh.deploy.options import SCALERS, RenderOptions
from unclip_mesh.deploy.render import render

RENDERINGS = {
    f"{overlay}/{scaler}": RenderOptions(overlay=overlay, scaler=scaler, monitoring=True)
    for overlay in ("cpu-demo", "gpu")
    for scaler in SCALERS
}


def by_kind(objects: list[dict], kind: str) -> dict[str, dict]:
    return {o["metadata"]["name"]: o for o in objects if o["kind"] == kind}


def selects(selector: dict, labels: dict[str, str]) -> bool:
    """A LabelSelector (matchLabels, matchExpressions with In/NotIn/Exists) against labels."""
    if any(labels.get(k) != v for k, v in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
    return True


def rendered(name: str) -> list[dict]:
    return render(RENDERINGS[name])
