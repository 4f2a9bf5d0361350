"""The strategic-merge patch that turns one manifest into another, for the kustomize overlays.

Covers the shapes our overlays produce: maps merge key by key (a key that goes away is null), lists
of named items (containers, env, volumes, mounts) merge item by item on `name`, any other list is
replaced whole. An overlay that adds or drops a named item is refused: it has no such patch here.
"""

from typing import Any, TypeGuard


def is_named_list(value: Any) -> TypeGuard[list[dict]]:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(item, dict) and "name" in item for item in value)
    )


def _named_list_patch(base: list[dict], target: list[dict], where: str) -> list[dict]:
    if [item["name"] for item in base] != [item["name"] for item in target]:
        raise ValueError(f"{where}: named items differ; an overlay may only change their fields")
    return [
        {"name": t["name"], **strategic_diff(b, t, f"{where}[{t['name']}]")}
        for b, t in zip(base, target, strict=True)
        if b != t
    ]


def strategic_diff(base: dict, target: dict, where: str = "") -> dict:
    """A patch p such that a strategic merge of p into `base` gives `target`."""
    patch: dict = {}
    for key, value in target.items():
        old = base.get(key)
        if key in base and old == value:
            continue
        path = f"{where}.{key}"
        if isinstance(old, dict) and isinstance(value, dict):
            patch[key] = strategic_diff(old, value, path)
        elif is_named_list(old) and is_named_list(value):
            patch[key] = _named_list_patch(old, value, path)
        else:
            patch[key] = value
    patch.update({key: None for key in base if key not in target})
    return patch
