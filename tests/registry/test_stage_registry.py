"""The stage registry is the one list of stages: a stage registered here appears in every place that
lists stages (settings, deploy rendering, the command line, certificates), and no module outside the
registries writes a list of stage or scheduler names of its own."""

import argparse
import ast
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from services import scheduler_registry, stage_registry
from services.runtime.settings import add_server_arguments, settings_from_args
from unclip.v1 import generation_pb2, sampling_pb2
from unclip_mesh.cli.calls import add_call_options
from unclip_mesh.cli.main import build_parser
from unclip_mesh.deploy import options as deploy_options
from unclip_mesh.deploy.options import RenderOptions
from unclip_mesh.deploy.profiles import PROFILES
from unclip_mesh.deploy.render import render

ROOT = Path(__file__).resolve().parents[2]
EXTRA = stage_registry.Stage(
    "denoiser",
    50099,
    "services.decoder.__main__",
    sampled=True,
    service=stage_registry.GrpcService("decoder", "DecoderService"),
)


@pytest.fixture
def extra_stage(monkeypatch):
    stage_registry.register(EXTRA)
    cpu_demo = PROFILES["cpu-demo"]
    profile = replace(cpu_demo, stages={**cpu_demo.stages, EXTRA.name: cpu_demo.stages["decoder"]})
    monkeypatch.setattr(deploy_options, "PROFILES", {**PROFILES, "cpu-demo": profile})
    yield EXTRA
    stage_registry.unregister(EXTRA.name)


def test_a_registered_stage_gets_settings_with_its_port(extra_stage):
    parser = argparse.ArgumentParser()
    add_server_arguments(parser, extra_stage.name)
    assert settings_from_args(parser.parse_args([]), {}).port == extra_stage.port


def test_a_registered_stage_is_rendered_for_kubernetes(extra_stage):
    objects = render(RenderOptions(overlay="cpu-demo"))
    named = {(o["kind"], o["metadata"]["name"]) for o in objects}
    for kind in ("Deployment", "Service", "ConfigMap", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
        assert (kind, "unclip-denoiser") in named
    peers = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == "unclip-orchestrator"
    )["data"]["UNCLIP_PEERS"]
    assert "denoiser=dns:///unclip-denoiser." in peers


def test_a_registered_stage_is_known_to_the_command_line(extra_stage):
    parser = build_parser()
    assert parser.parse_args(["serve", "denoiser"]).stage == "denoiser"
    call = argparse.ArgumentParser()
    add_call_options(call)
    assert call.parse_args(["--denoiser-steps", "3"]).denoiser_steps == 3


def test_registering_a_name_twice_is_refused():
    with pytest.raises(ValueError, match="registered already"):
        stage_registry.register(stage_registry.get("decoder"))


def test_the_registries_import_no_generated_code():
    """The bundle loader reads them inside Triton's Python backend, under a protobuf of its own."""
    script = (
        "import sys; import services.bundle.loader; "
        "sys.exit(any(name.startswith('unclip.v1') for name in sys.modules))"
    )
    assert subprocess.run([sys.executable, "-c", script], cwd=ROOT).returncode == 0


def test_every_stage_of_the_wire_enum_is_registered_once():
    values = set(generation_pb2.Stage.values()) - {generation_pb2.STAGE_UNSPECIFIED}
    assert sorted(stage_registry.get(name).enum for name in stage_registry.model_stages()) == sorted(values)


def test_every_scheduler_of_the_wire_enum_is_registered_once():
    values = set(sampling_pb2.Scheduler.values()) - {sampling_pb2.SCHEDULER_UNSPECIFIED}
    assert sorted(s.enum for s in scheduler_registry.SCHEDULERS) == sorted(values)


def test_sizes_follow_the_image_stages():
    assert stage_registry.stages_for_size(64) == ("decoder",)
    assert stage_registry.stages_for_size(1024) == ("decoder", "upsampler_256", "upsampler_1024")
    assert stage_registry.text_to_image_stages(256) == ("text_encoder", "prior", "decoder", "upsampler_256")


def _name_lists(path: Path, names: set[str]) -> list[int]:
    """Lines of `path` holding a tuple, list or set literal with two or more of `names`, or a table of
    them (a dict literal keyed by two or more, whose values are not all local variables: a dict of a
    call's outputs by stage is data, not a table)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Dict):
            if all(isinstance(value, ast.Name) for value in node.values):
                continue
            items = node.keys
        elif isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            items = node.elts
        else:
            continue
        found = {item.value for item in items if isinstance(item, ast.Constant) and item.value in names}
        if len(found) >= 2:
            lines.append(node.lineno)
    return lines


@pytest.mark.parametrize(
    "names", [set(stage_registry.model_stages()), set(scheduler_registry.NAMES)], ids=["stages", "schedulers"]
)
def test_no_module_writes_its_own_list_of_stages_or_schedulers(names):
    """Writers of particular bundles (unclip_mesh/bundles/) keep their own per-stage data."""
    registries = {ROOT / "services" / "stage_registry.py", ROOT / "services" / "scheduler_registry.py"}
    sources = [
        p
        for folder in ("services", "unclip_mesh")
        for p in sorted((ROOT / folder).rglob("*.py"))
        if p not in registries and "bundles" not in p.relative_to(ROOT).parts
    ]
    found = {str(p.relative_to(ROOT)): lines for p in sources if (lines := _name_lists(p, names))}
    assert found == {}
