"""The committed demo bundle draws the asked colour and shape (the world's detectors) on a few prompts,
and its CLIP sees shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from services.inprocess_cascade import InProcessCascade
from training import world
from training.clip_features import FrozenClip
from training.detector import dominant_colour, dominant_shape
from training.evaluation import rendered_shape_accuracy, training_pairs
from training.sampling import images_by_size

BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo"
PROMPTS = {  # prompt -> asked colour
    "a large red square on a white background": "red",
    "a large blue circle on a gray background": "blue",
    "a large yellow triangle on a black background": "yellow",
}


@pytest.mark.skipif(not (BUNDLE / "unclip_bundle.json").is_file(), reason="no demo bundle")
def test_demo_bundle_draws_the_asked_colour():
    stages = InProcessCascade.open(BUNDLE)
    images = images_by_size(stages, list(PROMPTS), seed=0, size=64)[stages.decoder.image_size]
    assert [dominant_colour(image) for image in images] == list(PROMPTS.values())


@pytest.mark.skipif(not (BUNDLE / "unclip_bundle.json").is_file(), reason="no demo bundle")
@pytest.mark.parametrize(
    ("pairs", "at_least"),
    [
        (training_pairs(), 5),  # eval: 98% of trained pairs' images through the prior
        (sorted(world.HELD_OUT), 3),  # eval: 67-70% of held-out pairs' images
    ],
    ids=["trained", "held_out"],
)
def test_demo_bundle_draws_the_asked_shape(pairs, at_least):
    """One image per (colour, shape) pair on white through the whole 64 px cascade, seed 0."""
    stages = InProcessCascade.open(BUNDLE)
    images = images_by_size(stages, [world.prompt(c, s, "white") for c, s in pairs], seed=0, size=64)[64]
    drawn = [dominant_shape(image) for image in images]
    assert sum(d == s for d, (_, s) in zip(drawn, pairs, strict=True)) >= at_least, list(
        zip(pairs, drawn, strict=True)
    )


@pytest.mark.skipif(not (BUNDLE / "unclip_bundle.json").is_file(), reason="no demo bundle")
def test_demo_clip_sees_the_shape():
    """Trained on shape groups, the demo CLIP names the shape of rendered scenes (random batches: 35%)."""
    clip = FrozenClip.load(BUNDLE / "text_encoder", torch.device("cpu"))
    assert rendered_shape_accuracy(clip, seed=1, rows=120) >= 0.9
