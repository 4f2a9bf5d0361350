"""What a process may import, read from the source: the third-party top-level modules reachable from
some modules of this repository, and the modules each requirement of pyproject.toml provides."""

import ast
import re
import sys
import tomllib
from functools import cache
from importlib.metadata import packages_distributions, requires
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "unclip-mesh"
LOCAL = {"services", "unclip", "unclip_mesh", "training"}


def _source(module: str) -> Path | None:
    path = ROOT.joinpath(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(tree: ast.Module) -> list[str]:
    """Every module an import statement names, function bodies included: a lazy import runs too
    when the process takes that path. `from a import b` names `a` and `a.b` (b may be a module)."""
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(
                    f"line {node.lineno}: a relative import; this walk reads "
                    "absolute ones (the repository's style)"
                )
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def third_party_imports(entries: list[str]) -> dict[str, str]:
    """Top-level third-party module -> the first repository module found importing it, over every
    module reachable from `entries` through this repository's packages (and their __init__s)."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    pending = list(entries)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        pending.extend(".".join(parts[:end]) for end in range(1, len(parts)))
        source = _source(module)
        if source is None:
            continue
        for name in _imported_names(ast.parse(source.read_text(), str(source))):
            top = name.partition(".")[0]
            if top in LOCAL:
                pending.append(name)
            elif top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, module)
    return found


def package_modules(package: str) -> list[str]:
    """Every module of a package of this repository."""
    folder = ROOT / package.replace(".", "/")
    return [".".join(path.relative_to(ROOT).with_suffix("").parts) for path in folder.rglob("*.py")]


def _normalized(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def requirements(extras: tuple[str, ...] = ()) -> set[str]:
    """Normalized distribution names of the base dependencies plus `extras`, following the
    project's references to its own extras (`unclip-mesh[models]`)."""
    project = pyproject()
    wanted, names, done = list(project["dependencies"]), set(), set()
    for extra in extras:
        wanted.extend(project["optional-dependencies"][extra])
    while wanted:
        requirement = Requirement(wanted.pop())
        if _normalized(requirement.name) != PROJECT:
            names.add(_normalized(requirement.name))
            continue
        for extra in set(requirement.extras) - done:
            done.add(extra)
            wanted.extend(project["optional-dependencies"][extra])
    return names


def installed_closure(distributions: set[str]) -> set[str]:
    """`distributions` and, transitively, what their installed metadata requires (extras aside)."""
    found, pending = set(), list(distributions)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        for text in requires(name) or ():
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(_normalized(requirement.name))
    return found


@cache
def _modules_by_distribution() -> dict[str, frozenset[str]]:
    by_distribution: dict[str, set[str]] = {}
    for module, owners in packages_distributions().items():
        for owner in owners:
            by_distribution.setdefault(_normalized(owner), set()).add(module)
    return {name: frozenset(modules) for name, modules in by_distribution.items()}


def provided_modules(distributions: set[str]) -> set[str]:
    """The top-level import names the installed `distributions` provide."""
    by_distribution = _modules_by_distribution()
    missing = distributions - by_distribution.keys()
    if missing:
        raise AssertionError(f"not installed: {', '.join(sorted(missing))} (scripts/setup.sh)")
    return set().union(*(by_distribution[name] for name in distributions))
