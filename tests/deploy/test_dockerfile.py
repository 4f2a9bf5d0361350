"""The images agree with the manifests and the extras; hadolint runs where it is installed."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from services import stage_registry
from unclip_mesh.deploy.images import ROLE_EXTRAS
from unclip_mesh.deploy.workloads import RUN_AS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def _stages() -> dict[str, list[str]]:
    """Build stage name -> its instructions (continuation lines joined)."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text())
    stages: dict[str, list[str]] = {}
    current: list[str] = []  # what comes before the first FROM (ARGs) belongs to no stage
    for line in text.splitlines():
        match = re.match(r"FROM \S+ AS (\S+)$", line)
        if match:
            current = stages.setdefault(match.group(1), [])
        if line and not line.startswith("#"):
            current.append(line)
    return stages


def _parent(stage: str) -> str:
    return _stages()[stage][0].split()[1]


def test_image_runs_as_the_numeric_user_the_pods_require():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert users == [f"{RUN_AS}:{RUN_AS}"]
    assert "USER 10001:10001" in _stages()["runtime"]


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_each_role_is_a_target_on_the_shared_runtime(role):
    """FROM the runtime stage (slim base, user, entrypoint) with its own build's venv only."""
    assert _parent(role) == "runtime"
    assert _parent("runtime") == "${PYTHON_IMAGE}"
    copies = [line for line in _stages()[role] if line.startswith("COPY")]
    assert copies == [f"COPY --from={role}-build /opt/venv /opt/venv"]


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_each_role_installs_this_repository_with_its_extras_only(role):
    (install,) = [line for line in _stages()[f"{role}-build"] if "pip install" in line]
    assert f'".[{",".join(ROLE_EXTRAS[role])}]"' in install.split()
    assert "unclip-mesh --help" in install, "the build checks that the console script starts"


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_each_role_exposes_its_stages_ports_and_metrics(role):
    exposed = set()
    items = [
        item
        for line in _stages()[role] + _stages()["runtime"]
        if line.startswith("EXPOSE")
        for item in line.split()[1:]
    ]
    for item in items:
        low, _, high = item.partition("-")
        exposed.update(range(int(low), int(high or low) + 1))
    ports = {stage_registry.get(name).port for name in stage_registry.names(role)}
    assert ports | {9090} == exposed


def test_entrypoint_is_the_console_script_so_args_pick_the_stage():
    assert _stages()["runtime"][-1] == 'ENTRYPOINT ["unclip-mesh"]'
    assert not any(line.startswith("ENTRYPOINT") for role in ROLE_EXTRAS for line in _stages()[role])


def test_build_context_holds_every_package_of_the_wheel():
    ignore = (ROOT / "deploy" / "Dockerfile.dockerignore").read_text().splitlines()
    for kept in ("pyproject.toml", "README.md", "services/", "unclip/", "unclip_mesh/"):
        assert f"!{kept}" in ignore


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_hadolint_is_clean():
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout, result.stdout
