"""The words of a prompt that a bundle never saw in training (its manifest's `vocabulary`).

A small model trained on a closed world (the demo bundle) draws something for any prompt, so a word
outside its captions ("blue background" where the world's backgrounds are white, black, gray and pink)
fails silently; naming such words is the only hint a user gets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """The lower-cased words of `text`, in order (digits and punctuation are not words)."""
    return _WORD.findall(text.lower())


def unknown_words(texts: Iterable[str], vocabulary: Iterable[str]) -> list[str]:
    """The words of `texts` outside `vocabulary`, each once, in order of appearance."""
    known = {w.lower() for w in vocabulary}
    unknown: list[str] = []
    for text in texts:
        unknown.extend(w for w in words(text) if w not in known and w not in unknown)
    return unknown
