"""Every process imports only what its role's install provides: the base dependencies plus the
extras of its role in pyproject.toml (the extras its image installs, unclip_mesh/deploy/images.py).
The walk follows this repository's imports from each process's entry modules, lazy ones included."""

import json
import subprocess
import sys

import pytest

from services import stage_registry
from tests.deploy.imports import (
    ROOT,
    installed_closure,
    package_modules,
    provided_modules,
    pyproject,
    requirements,
    third_party_imports,
)
from unclip_mesh.deploy.images import ROLE_EXTRAS

# Every image starts its process through the console script: `unclip-mesh serve STAGE`.
CONSOLE_SCRIPT = ["unclip_mesh.cli.main", "unclip_mesh.cli.serve"]
ROLES = {
    role: (
        [*(stage.module for stage in stage_registry.all_stages() if stage.role == role), *CONSOLE_SCRIPT],
        extras,
    )
    for role, extras in ROLE_EXTRAS.items()
}
# The command line's tools and the extras they need; not here: `unclip-mesh triton`, which works
# beside a Triton server (docs/TRITON.md), and `unclip-mesh up`, which starts the roles' processes.
TOOLS = {
    "deploy": (["unclip_mesh.cli.deploy", "unclip_mesh.cli.certs"], ("deploy",)),
    "client": (
        [
            "unclip_mesh.cli.generate",
            "unclip_mesh.cli.flows",
            "unclip_mesh.client.sdk",
            "unclip_mesh.client.aio",
        ],
        ("client",),
    ),
    "bundle": (["unclip_mesh.cli.bundle"], ("models",)),
    "training": ([*package_modules("training"), "unclip_mesh.cli.eval"], ("train",)),
}


@pytest.mark.parametrize("name", sorted(ROLES) + sorted(TOOLS))
def test_every_third_party_import_comes_with_the_role(name):
    entries, extras = {**ROLES, **TOOLS}[name]
    allowed = provided_modules(requirements(extras))
    missing = {
        module: importer for module, importer in third_party_imports(entries).items() if module not in allowed
    }
    assert not missing, f"{name} (base + {', '.join(extras)}) imports, without providing: {missing}"


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_roles_do_not_install_what_only_another_role_imports(role):
    """The gateway's image has no torch, the orchestrator's no diffusers."""
    entries, extras = ROLES[role]
    installed = provided_modules(requirements(extras) - requirements())
    imported = set(third_party_imports(entries))
    others = set().union(*(third_party_imports(e) for r, (e, _) in ROLES.items() if r != role))
    assert not (installed & others) - imported, f"{role} installs what only other roles import"


def test_the_console_script_starts_with_the_base_dependencies_only():
    """`unclip-mesh --help` builds every subcommand's parser with the modules only an extra
    provides unimportable: subcommands import those inside run()."""
    heavy = sorted(provided_modules(requirements(("all",))) - provided_modules(requirements()))
    program = f"""
import importlib.abc, sys
HEAVY = set({json.dumps(heavy)})
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HEAVY:
            raise ModuleNotFoundError(f"{{name}} is not a base dependency", name=name)
sys.meta_path.insert(0, Refuse())
from unclip_mesh.cli.main import build_parser
print(len(build_parser().format_help()))
"""
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "torch" in heavy and "kubernetes" in heavy and "aiohttp" in heavy


def test_all_holds_every_extra_and_dev_holds_all():
    extras = pyproject()["optional-dependencies"]
    every = set().union(*(requirements((extra,)) for extra in extras if extra != "dev"))
    assert requirements(("all",)) == every
    assert "unclip-mesh[all]" in extras["dev"]
    assert every <= requirements(("dev",))


@pytest.mark.parametrize("role", sorted(ROLE_EXTRAS))
def test_every_base_dependency_runs_in_every_role(role):
    """Each is imported by the role's process or required by a distribution of its extras
    (the model stages get pillow through torchvision and diffusers): none is one role's alone."""
    entries, extras = ROLES[role]
    base = requirements()
    pulled = installed_closure(requirements(extras) - base) & base
    unused = provided_modules(base - pulled) - set(third_party_imports(entries))
    assert not unused, f"base dependencies the {role} never runs: {sorted(unused)}"
