"""deploy/ is the kustomize form of render(): the files are what the generator writes, and
kustomize builds each overlay into exactly render()'s objects."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from unclip_mesh.deploy.kustomize import tree, write_tree
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.patch import is_named_list, strategic_diff
from unclip_mesh.deploy.profiles import OVERLAYS
from unclip_mesh.deploy.render import render

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
GENERATED_DIRS = ("base", "overlays")


def _by_identity(objects) -> dict:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


def test_committed_tree_is_what_the_generator_writes():
    generated = tree()
    committed = {
        str(p.relative_to(DEPLOY)): p.read_text()
        for folder in GENERATED_DIRS
        for p in (DEPLOY / folder).rglob("*")
        if p.is_file()
    }
    assert sorted(committed) == sorted(generated), (
        "run `unclip-mesh deploy kustomize deploy` and commit the result"
    )
    stale = [path for path, text in generated.items() if committed[path] != text]
    assert not stale, f"stale, regenerate with `unclip-mesh deploy kustomize deploy`: {stale}"


def test_write_tree_writes_every_file(tmp_path):
    written = write_tree(tmp_path)
    assert sorted(str(p.relative_to(tmp_path)) for p in written) == sorted(tree())


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl (kustomize)")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_build_equals_render(overlay):
    built = subprocess.run(
        ["kubectl", "kustomize", str(DEPLOY / "overlays" / overlay)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert _by_identity(yaml.safe_load_all(built)) == _by_identity(render(RenderOptions(overlay=overlay)))


def _merge(base, patch):
    """Strategic merge as kustomize does it, for the shapes strategic_diff emits."""
    if not isinstance(base, dict) or not isinstance(patch, dict):
        return patch
    merged = dict(base)
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        elif is_named_list(value) and isinstance(base.get(key), list):
            patched = {item["name"]: item for item in value}
            merged[key] = [
                _merge(item, patched[item["name"]]) if item["name"] in patched else item for item in base[key]
            ]
        else:
            merged[key] = _merge(base.get(key), value)
    return merged


@pytest.mark.parametrize(
    "base, target",
    [
        ({"a": 1, "b": {"c": 2, "d": 3}}, {"a": 1, "b": {"c": 4, "d": 3}}),
        ({"a": 1, "gone": 2}, {"a": 1}),
        ({"list": [1, 2]}, {"list": [2, 1]}),
        (
            {"c": [{"name": "x", "v": 1}, {"name": "y", "v": 2}]},
            {"c": [{"name": "x", "v": 1}, {"name": "y", "v": 3, "w": 4}]},
        ),
        ({}, {"new": {"deep": [{"name": "n"}]}}),
    ],
)
def test_strategic_diff_merges_back_into_the_target(base, target):
    assert _merge(base, strategic_diff(base, target)) == target


def test_strategic_diff_is_minimal():
    base = {"c": [{"name": "x", "v": 1}, {"name": "y", "v": 2}], "same": {"k": 1}}
    target = {"c": [{"name": "x", "v": 1}, {"name": "y", "v": 3}], "same": {"k": 1}}
    assert strategic_diff(base, target) == {"c": [{"name": "y", "v": 3}]}


def test_strategic_diff_refuses_adding_a_named_item():
    with pytest.raises(ValueError, match="named items differ"):
        strategic_diff({"c": [{"name": "x"}]}, {"c": [{"name": "x"}, {"name": "y"}]})


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_patches_applied_to_base_give_the_overlay(overlay):
    def namespaced(options):
        return {
            key: {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "namespace"}}
            for key, o in _by_identity(render(options)).items()
            if key[0] != "Namespace"
        }

    base, target = namespaced(RenderOptions(overlay="base")), namespaced(RenderOptions(overlay=overlay))
    assert {key: _merge(base[key], strategic_diff(base[key], obj)) for key, obj in target.items()} == target
