"""The committed demo bundle draws the asked colour (the world's colour detector) on a few prompts, and
its CLIP sees shapes."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from training.clip_features import FrozenClip
from training.detector import dominant_colour
from training.evaluation import rendered_shape_accuracy
from training.sampling import Stages

BUNDLE = Path(__file__).resolve().parents[2] / "models" / "demo"
PROMPTS = {  # prompt -> asked colour
    "a large red square on a white background": "red",
    "a large blue circle on a gray background": "blue",
    "a large yellow triangle on a black background": "yellow",
}


@pytest.mark.skipif(not (BUNDLE / "unclip_bundle.json").is_file(), reason="no demo bundle")
def test_demo_bundle_draws_the_asked_colour():
    stages = Stages.load(BUNDLE)
    images = stages.generate(list(PROMPTS), seed=0, size=64)[stages.decoder.image_size]
    assert [dominant_colour(image) for image in images] == list(PROMPTS.values())


@pytest.mark.skipif(not (BUNDLE / "unclip_bundle.json").is_file(), reason="no demo bundle")
def test_demo_clip_sees_the_shape():
    """Trained on shape groups, the demo CLIP names the shape of rendered scenes (random batches: 35%)."""
    clip = FrozenClip.load(BUNDLE / "text_encoder", torch.device("cpu"))
    assert rendered_shape_accuracy(clip, seed=1, rows=120) >= 0.9
