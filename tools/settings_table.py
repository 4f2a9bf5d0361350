"""Writes the settings tables of docs/API.md from the settings definitions, so they cannot drift.

`python -m tools.settings_table` rewrites the text between `<!-- settings:NAME -->` and
`<!-- /settings:NAME -->` in docs/API.md; tests/tools/test_settings_table.py checks it is current.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import MISSING, fields
from pathlib import Path

from services import stage_registry
from services.gateway.settings import GATEWAY_OPTIONS, GatewaySettings
from services.runtime.settings import SERVER_FIELDS, SERVER_OPTIONS, Option, ServerSettings

ROOT = Path(__file__).resolve().parents[1]

API_DOC = ROOT / "docs" / "API.md"


def _default(value: object) -> str:
    if value is MISSING or value is None or value == {}:
        return "unset"
    if isinstance(value, str) and Path(value).is_absolute():
        return Path(value).relative_to(ROOT).as_posix()
    return str(value)


def table(
    options: tuple[Option, ...], settings: type, field_names: Mapping[str, str], special: Mapping[str, str]
) -> str:
    """A markdown table: flag, variable, default and meaning of each option."""
    defaults = {f.name: f.default for f in fields(settings)}
    rows = ["| flag | variable | default | meaning |", "| --- | --- | --- | --- |"]
    for option in options:
        name = field_names.get(option.dest, option.dest)
        default = special.get(name) or _default(defaults.get(name, MISSING))
        meaning = option.help + (" (orchestrator only)" if option.orchestrator_only else "")
        rows.append(f"| `{option.flag}` | `{option.env}` | {default} | {meaning} |")
    return "\n".join(rows)


def tables() -> dict[str, str]:
    ports = ", ".join(
        f"{s.name} {s.port}" for s in stage_registry.all_stages() if s.role != stage_registry.GATEWAY
    )
    return {
        "server": table(SERVER_OPTIONS, ServerSettings, SERVER_FIELDS, {"port": f"the stage's: {ports}"}),
        "gateway": table(GATEWAY_OPTIONS, GatewaySettings, {}, {}),
    }


def rewrite(text: str, generated: Mapping[str, str]) -> str:
    for name, body in generated.items():
        pattern = re.compile(rf"(<!-- settings:{name} -->\n)(?:.*?\n)?(<!-- /settings:{name} -->)", re.DOTALL)
        if not pattern.search(text):
            raise ValueError(f"docs/API.md has no <!-- settings:{name} --> block")
        text = pattern.sub(lambda m, body=body: f"{m.group(1)}{body}\n{m.group(2)}", text)
    return text


def main() -> int:
    API_DOC.write_text(rewrite(API_DOC.read_text(), tables()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
