"""Programs and packages from outside Python that some tests need. scripts/setup.sh installs them;
where one is missing a test skips on a workstation but fails in CI (CI=true), so that a broken
setup cannot pass as skipped tests."""

import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NODE_MODULES = ROOT / ".tools" / "node_modules"


def _missing(what: str) -> None:
    message = f"{what} is missing: run scripts/setup.sh"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def program(name: str) -> str:
    """The path of program `name` on PATH."""
    path = shutil.which(name)
    if path is None:
        _missing(name)
    return path


def node_package(name: str) -> Path:
    """The folder of npm package `name` under .tools (needs node as well)."""
    program("node")
    folder = NODE_MODULES / name
    if not folder.is_dir():
        _missing(f"npm package {name} under .tools")
    return folder
