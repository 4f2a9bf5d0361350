"""Every prompt the README, docs/ and scripts/demo.sh show a newcomer uses words the demo bundle knows."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from services.bundle.loader import open_bundle
from unclip_mesh.bundles.vocabulary import unknown_words

ROOT = Path(__file__).resolve().parents[2]
COMMAND = re.compile(r"(?:unclip-mesh (?:generate|edit|inpaint|interpolate)|scripts/demo\.sh)\b[^\n]*")
QUOTED = re.compile(r'"([^"]+)"')
DEMO_DEFAULT = re.compile(r"\$\{1:-([^}]+)\}")


def documented_prompts() -> list[tuple[str, str]]:
    """(file, prompt) for every quoted string on a command line of the docs, and demo.sh's default."""
    prompts = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for command in COMMAND.findall(path.read_text()):
            prompts += [(path.name, text) for text in QUOTED.findall(command) if " " in text]
    demo_script = (ROOT / "scripts" / "demo.sh").read_text()
    prompts += [("demo.sh", text) for text in DEMO_DEFAULT.findall(demo_script)]
    return prompts


def test_the_docs_show_prompts():
    assert {name for name, _ in documented_prompts()} >= {"README.md", "demo.sh"}


@pytest.mark.parametrize(("name", "prompt"), documented_prompts())
def test_documented_prompt_uses_known_words(name, prompt):
    vocabulary = open_bundle(ROOT / "models" / "demo").manifest.vocabulary
    assert vocabulary, "the demo bundle records its vocabulary"
    assert unknown_words([prompt], vocabulary) == [], f"{name}: {prompt}"
