"""The lint rules (ruff.toml), the formatting and the type checks ([tool.mypy] in pyproject.toml) hold
over the tree. The tools are the ones installed beside the interpreter running the tests (the dev extra)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PYTHON_TREES = ("services", "unclip_mesh", "tests", "benchmarks", "training", "tools")


def _run(tool: str, *args: str) -> None:
    """Runs `tool` from the repository root; fails with its output unless it exits 0."""
    program = BIN / tool
    assert program.is_file(), f"{program} is missing: install the dev extra (pip install -e .[dev])"
    done = subprocess.run([str(program), *args], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{tool} {' '.join(args)}:\n{done.stdout}{done.stderr}"


def test_ruff_lint_rules_hold():
    _run("ruff", "check", *PYTHON_TREES)


def test_the_tree_is_formatted():
    _run("ruff", "format", "--check", *PYTHON_TREES)


@pytest.mark.slow
def test_mypy_finds_no_type_errors():
    _run("mypy")
