"""The world's detectors read rendered scenes exactly, at every size the flows and the eval use."""

import pytest
import torch

from training import world
from training.detector import background_colour, dominant_colour, dominant_shape, shape_scores


@pytest.mark.parametrize("side", [64, 256])
def test_detectors_name_every_rendered_scene(side):
    scenes = world.sample_scenes(200, torch.Generator().manual_seed(0))
    images = world.render(scenes, side)
    assert [dominant_shape(image) for image in images] == [world.SHAPES[i] for i in scenes.shape.tolist()]
    assert [dominant_colour(image) for image in images] == [
        tuple(world.COLOURS)[i] for i in scenes.colour.tolist()
    ]
    assert [background_colour(image) for image in images] == [
        tuple(world.BACKGROUNDS)[i] for i in scenes.background.tolist()
    ]


def test_a_plain_image_has_no_shape_and_a_blob_fits_no_shape_well():
    plain = torch.zeros(3, 64, 64)
    assert dominant_shape(plain) is None and dominant_colour(plain) is None
    blob = plain.clone()
    blob[:, 10:54, 28:36] = 1  # a thin bar: no world shape is that thin
    assert max(shape_scores(blob).values()) < 0.5
