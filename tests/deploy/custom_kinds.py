"""Validation of the KEDA and Prometheus Operator kinds against their published schemas, as the
@kubernetes-models npm packages carry them (installed under .tools by scripts/setup.sh).

Two checks: the packages' compiled JSON-schema validators (types, required fields, enums,
patterns), run by validate_custom_kinds.mjs; and, because those let unknown fields through,
TypeScript's excess-property check of each object against the same packages' types, which is what
kubernetes-validate's strict mode is for the built-in kinds.
"""

import json
import re
import subprocess
from pathlib import Path

from tests.required_tools import NODE_MODULES, node_package

PACKAGES = {"keda.sh": "keda", "monitoring.coreos.com": "prometheus-operator"}
VALIDATOR = Path(__file__).with_name("validate_custom_kinds.mjs")
TIMEOUT_SECONDS = 120
_TSC_ERROR = re.compile(r"^objects\.ts\((\d+),\d+\): error (TS\d+: .*)$")


def is_custom(obj: dict) -> bool:
    return obj["apiVersion"].split("/")[0] in PACKAGES


def _require_packages() -> None:
    for package in (*PACKAGES.values(), "typescript"):
        node_package(package if package == "typescript" else f"@kubernetes-models/{package}")


def schema_errors(objects: list[dict]) -> list[str]:
    _require_packages()
    done = subprocess.run(
        ["node", str(VALIDATOR), str(NODE_MODULES), json.dumps(PACKAGES)],
        input=json.dumps(objects),
        capture_output=True,
        text=True,
        check=True,
        timeout=TIMEOUT_SECONDS,
    )
    return json.loads(done.stdout)


def unknown_field_errors(objects: list[dict], workdir: Path) -> list[str]:
    """TypeScript errors of `const o: IKind = {...object...}`, one line per object."""
    _require_packages()
    imports = sorted({(PACKAGES[o["apiVersion"].split("/")[0]], o["apiVersion"], o["kind"]) for o in objects})
    header = [
        f'import type {{ I{kind} }} from "@kubernetes-models/{package}/{version}/{kind}";'
        for package, version, kind in imports
    ]
    lines = [f"export const o{i}: I{o['kind']} = {json.dumps(o)};" for i, o in enumerate(objects)]
    (workdir / "objects.ts").write_text("\n".join(header + lines) + "\n")
    config = {
        "compilerOptions": {
            "strict": True,
            "noEmit": True,
            "skipLibCheck": True,
            "types": [],
            "module": "esnext",
            "moduleResolution": "bundler",
            "paths": {"@kubernetes-models/*": [f"{NODE_MODULES}/@kubernetes-models/*"]},
        },
        "files": ["objects.ts"],
    }
    (workdir / "tsconfig.json").write_text(json.dumps(config))
    done = subprocess.run(
        ["node", str(NODE_MODULES / "typescript" / "bin" / "tsc"), "-p", str(workdir)],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
    )
    errors = []
    for line in done.stdout.splitlines():
        if match := _TSC_ERROR.match(line):
            index = int(match.group(1)) - len(header) - 1
            where = (
                f"{objects[index]['kind']}/{objects[index]['metadata']['name']}"
                if 0 <= index < len(objects)
                else "objects.ts"
            )
            errors.append(f"{where}: {match.group(2)}")
    if done.returncode != 0 and not errors:
        raise RuntimeError(f"tsc failed:\n{done.stdout}{done.stderr}")
    return errors
