"""The training world: random scenes keep to their side of the held-out split; shape groups differ in
their shape alone."""

from __future__ import annotations

import torch

from training import world
from unclip_mesh.bundles.vocabulary import words


def _pairs(scenes: world.Scenes) -> set[tuple[str, str]]:
    colours = tuple(world.COLOURS)
    return {
        (colours[c], world.SHAPES[s])
        for c, s in zip(scenes.colour.tolist(), scenes.shape.tolist(), strict=True)
    }


def test_random_scenes_keep_to_their_side_of_the_split():
    generator = torch.Generator().manual_seed(0)
    assert not _pairs(world.sample_scenes(500, generator)) & world.HELD_OUT
    assert _pairs(world.sample_scenes(500, generator, held_out=True)) <= world.HELD_OUT


def test_a_shape_group_is_one_scene_in_each_training_shape_of_its_colour():
    scenes = world.sample_shape_groups(40, torch.Generator().manual_seed(1))
    assert len(scenes) == 120
    assert not _pairs(scenes) & world.HELD_OUT
    for group in range(40):
        rows = slice(3 * group, 3 * group + 3)
        for shared in (scenes.colour, scenes.background, scenes.size, scenes.position):
            assert len(set(shared[rows].tolist())) == 1
        assert len(set(scenes.shape[rows].tolist())) == 3
        assert (scenes.cx[rows].max() - scenes.cx[rows].min()) < 0.07  # the same place, up to jitter


def test_vocabulary_holds_every_caption_word_and_no_other():
    scenes = world.sample_scenes(400, torch.Generator().manual_seed(0))
    captions = world.captions(scenes, torch.Generator().manual_seed(1))
    assert {w for c in captions for w in words(c)} == set(world.vocabulary())
