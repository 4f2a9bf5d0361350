"""The calling subcommands print one warning line naming the prompt words the bundle never saw."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from services.bundle.manifest import MANIFEST_NAME, Manifest
from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.cli.main import main

CLOSED_PORT = "127.0.0.1:1"  # nothing listens: the call fails at once, after the warning


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    root = write_tiny_bundle(tmp_path_factory.mktemp("vocabulary") / "bundle").root
    manifest = Manifest.read(root / MANIFEST_NAME)
    vocabulary = ("a", "red", "circle", "square", "on", "white", "background")
    (root / MANIFEST_NAME).write_text(dataclasses.replace(manifest, vocabulary=vocabulary).to_json())
    return root


def _warnings(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning:")]


@pytest.mark.parametrize(
    "argv",
    [
        ["generate", "a red circle on a blue background"],
        ["edit", "in.png", "a blue circle", "--original-caption", "a red circle"],
        ["inpaint", "in.png", "a blue circle"],
        ["interpolate", "a red circle", "a blue circle"],
    ],
)
def test_unknown_words_are_named_in_one_line(bundle, tmp_path, capsys, argv, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.png").write_bytes(b"")
    assert main([*argv, "--target", CLOSED_PORT, "--bundle", str(bundle), "--timeout", "10"]) != 0
    assert len(warnings := _warnings(capsys)) == 1
    assert warnings[0].endswith(": blue")


def test_known_words_and_unknown_bundles_warn_nothing(bundle, capsys):
    main(
        [
            "generate",
            "a red square on a white background",
            "--target",
            CLOSED_PORT,
            "--bundle",
            str(bundle),
            "--timeout",
            "10",
        ]
    )
    main(["generate", "a blue star", "--target", CLOSED_PORT, "--timeout", "10"])  # served bundle unknown
    assert _warnings(capsys) == []


def test_a_bundle_without_vocabulary_warns_nothing(tmp_path, capsys):
    root = write_tiny_bundle(tmp_path / "plain").root
    main(["generate", "a zebra", "--target", CLOSED_PORT, "--bundle", str(root), "--timeout", "10"])
    assert _warnings(capsys) == []
