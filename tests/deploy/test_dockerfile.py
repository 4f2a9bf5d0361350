"""The image agrees with the manifests; hadolint runs where it is installed."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from unclip_mesh.deploy.workloads import RUN_AS

DOCKERFILE = Path(__file__).resolve().parents[2] / "deploy" / "Dockerfile"


def test_image_runs_as_the_numeric_user_the_pods_require():
    users = re.findall(r"^USER (\S+)$", DOCKERFILE.read_text(), flags=re.MULTILINE)
    assert users == [f"{RUN_AS}:{RUN_AS}"]


def test_entrypoint_is_the_console_script_so_args_pick_the_stage():
    text = DOCKERFILE.read_text()
    assert 'ENTRYPOINT ["unclip-mesh"]' in text
    assert re.search(r"pip install .* \.(\s|$)", text), "the image installs this repository"


@pytest.mark.skipif(shutil.which("hadolint") is None, reason="hadolint not installed")
def test_hadolint_is_clean():
    result = subprocess.run(["hadolint", str(DOCKERFILE)], capture_output=True, text=True)
    assert result.returncode == 0 and not result.stdout, result.stdout
