"""A bundle's vocabulary: the manifest keeps it, and the words of a prompt outside it are named."""

from __future__ import annotations

import dataclasses

from services.bundle.manifest import MANIFEST_NAME, Manifest
from unclip_mesh.bundles.vocabulary import unknown_words, words


def test_words_are_lower_cased_letters_only():
    assert words("A Red circle, 2 BLUE-ish; isn't") == ["a", "red", "circle", "blue", "ish", "isn't"]


def test_unknown_words_are_named_once_in_order():
    assert unknown_words(
        ["a red circle on a blue background", "a blue star, centered"],
        ["a", "red", "circle", "on", "background", "star"],
    ) == ["blue", "centered"]
    assert unknown_words(["A RED circle"], ["a", "red", "circle"]) == []


def test_manifest_keeps_its_vocabulary_and_omits_none(tmp_path):
    manifest = Manifest(name="n", version="1", stages={})
    assert "vocabulary" not in manifest.to_json()
    with_words = dataclasses.replace(manifest, vocabulary=("a", "red"))
    (tmp_path / MANIFEST_NAME).write_text(with_words.to_json())
    assert Manifest.read(tmp_path / MANIFEST_NAME).vocabulary == ("a", "red")
