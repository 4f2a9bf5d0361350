"""The eval's choice of trained pairs for the decoder-alone measure."""

from training import world
from training.evaluation import training_pairs


def test_training_pairs_are_trained_one_per_colour_and_cover_every_shape():
    pairs = training_pairs()
    assert [c for c, _ in pairs] == list(world.COLOURS)
    assert not set(pairs) & world.HELD_OUT
    assert {s for _, s in pairs} == set(world.SHAPES)
