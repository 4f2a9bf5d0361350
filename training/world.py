"""The captioned world the demo bundle is trained on: one flat shape on a flat background.

Scenes are rendered analytically (signed distances, anti-aliased over one pixel), so any size up to
1024 px and any window of it (an upsampler's training crop) come out of the same continuous scene.
Some (colour, shape) pairs never appear in training (HELD_OUT) and are kept for evaluation.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import torch
from PIL import Image

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (40, 80, 220),
    "yellow": (240, 210, 40),
    "purple": (140, 50, 180),
    "orange": (245, 130, 30),
}
BACKGROUNDS: dict[str, tuple[int, int, int]] = {
    "white": (240, 240, 240),
    "black": (25, 25, 25),
    "gray": (128, 128, 128),
    "pink": (250, 190, 200),
}
SHAPES = ("circle", "square", "triangle", "star")
SIZES = {"small": 0.2, "large": 0.32}  # radius as a fraction of the image side
POSITIONS = {
    "in the centre": (0.5, 0.5),
    "on the left": (0.32, 0.5),
    "on the right": (0.68, 0.5),
    "at the top": (0.5, 0.32),
    "at the bottom": (0.5, 0.68),
}
HELD_OUT = frozenset(
    {
        ("red", "triangle"),
        ("green", "circle"),
        ("blue", "star"),
        ("yellow", "square"),
        ("purple", "circle"),
        ("orange", "triangle"),
    }
)

_COLOUR_NAMES = tuple(COLOURS)
_BACKGROUND_NAMES = tuple(BACKGROUNDS)
_SIZE_NAMES = tuple(SIZES)
_POSITION_NAMES = tuple(POSITIONS)
_HELD_OUT_INDEX = torch.tensor([[(c, s) in HELD_OUT for s in SHAPES] for c in _COLOUR_NAMES])


@dataclass(frozen=True)
class Scenes:
    """A batch of scenes as index tensors [B] plus continuous placement [B] (fractions of the side)."""

    colour: torch.Tensor
    shape: torch.Tensor
    background: torch.Tensor
    size: torch.Tensor
    position: torch.Tensor
    cx: torch.Tensor
    cy: torch.Tensor
    radius: torch.Tensor

    def __len__(self) -> int:
        return self.colour.shape[0]


def _placement(
    size: torch.Tensor, position: torch.Tensor, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rows = size.shape[0]
    centres = torch.tensor([POSITIONS[p] for p in _POSITION_NAMES])[position]
    jitter = (torch.rand(rows, 2, generator=generator) - 0.5) * 0.06
    radius = torch.tensor([SIZES[s] for s in _SIZE_NAMES])[size]
    radius = radius * (0.9 + 0.2 * torch.rand(rows, generator=generator))
    return centres[:, 0] + jitter[:, 0], centres[:, 1] + jitter[:, 1], radius


def sample_scenes(rows: int, generator: torch.Generator, *, held_out: bool = False) -> Scenes:
    """Random scenes: training pairs only, or (held_out=True) held-out (colour, shape) pairs only."""
    colour = torch.randint(len(COLOURS), (rows,), generator=generator)
    shape = torch.randint(len(SHAPES), (rows,), generator=generator)
    while True:  # redraw the shape of rows on the wrong side of the split
        wrong = _HELD_OUT_INDEX[colour, shape] != held_out
        if not wrong.any():
            break
        shape[wrong] = torch.randint(len(SHAPES), (int(wrong.sum()),), generator=generator)
    background = torch.randint(len(BACKGROUNDS), (rows,), generator=generator)
    size = (torch.rand(rows, generator=generator) < 0.7).long()  # 70% large
    centred = torch.rand(rows, generator=generator) < 0.5
    position = torch.where(centred, 0, torch.randint(1, len(POSITIONS), (rows,), generator=generator))
    return Scenes(colour, shape, background, size, position, *_placement(size, position, generator))


def sample_shape_groups(groups: int, generator: torch.Generator) -> Scenes:
    """Scenes in groups of three that differ only in their shape: one colour's three training shapes
    on one background, at one size and position (each colour has one held-out shape). In a contrastive
    batch they are each other's hard negatives, so the shape has to be seen."""
    base = sample_scenes(groups, generator)
    shapes = torch.stack([(~_HELD_OUT_INDEX[c]).nonzero().flatten() for c in base.colour.tolist()])
    per = shapes.shape[1]
    size, position = base.size.repeat_interleave(per), base.position.repeat_interleave(per)
    return Scenes(
        base.colour.repeat_interleave(per),
        shapes.flatten(),
        base.background.repeat_interleave(per),
        size,
        position,
        *_placement(size, position, generator),
    )


def scenes_for(colour: str, shape: str, background: str, rows: int, generator: torch.Generator) -> Scenes:
    """`rows` scenes with the given attributes and random size and position."""

    def full(names: tuple[str, ...], name: str) -> torch.Tensor:
        return torch.full((rows,), names.index(name), dtype=torch.long)

    size = (torch.rand(rows, generator=generator) < 0.7).long()
    position = torch.randint(len(POSITIONS), (rows,), generator=generator)
    return Scenes(
        full(_COLOUR_NAMES, colour),
        full(SHAPES, shape),
        full(_BACKGROUND_NAMES, background),
        size,
        position,
        *_placement(size, position, generator),
    )


def captions(scenes: Scenes, generator: torch.Generator, mention_probability: float = 0.5) -> list[str]:
    """'a [large] red circle [on the left] on a white background'; size and position are each
    mentioned with `mention_probability`."""
    return _caption_texts(scenes, torch.rand(len(scenes), 2, generator=generator) < mention_probability)


def caption_layout(
    scenes: Scenes, generator: torch.Generator, mention_probability: float = 0.5
) -> tuple[Scenes, list[str]]:
    """The scenes re-placed so that their captions fix the layout, and those captions: a size or position
    the caption does not mention is the default one (large, in the centre). Without this a caption
    leaves the layout open, and a model that draws from it must pick one of many placements."""
    mention = torch.rand(len(scenes), 2, generator=generator) < mention_probability
    size = torch.where(mention[:, 0], scenes.size, _SIZE_NAMES.index("large"))
    position = torch.where(mention[:, 1], scenes.position, 0)
    placed = Scenes(
        scenes.colour, scenes.shape, scenes.background, size, position, *_placement(size, position, generator)
    )
    return placed, _caption_texts(placed, mention)


def _caption_texts(scenes: Scenes, mention: torch.Tensor) -> list[str]:
    """Each scene's caption; mention [B, 2] says whether it names the size and the position."""
    texts = []
    for row in range(len(scenes)):
        size = f"{_SIZE_NAMES[scenes.size[row]]} " if mention[row, 0] else ""
        position = f" {_POSITION_NAMES[scenes.position[row]]}" if mention[row, 1] else ""
        texts.append(
            f"a {size}{_COLOUR_NAMES[scenes.colour[row]]} {SHAPES[scenes.shape[row]]}{position} "
            f"on a {_BACKGROUND_NAMES[scenes.background[row]]} background"
        )
    return texts


def vocabulary() -> tuple[str, ...]:
    """Every word a caption of the world can hold, sorted (the bundle manifest's `vocabulary`)."""
    names = [*_COLOUR_NAMES, *SHAPES, *_BACKGROUND_NAMES, *_SIZE_NAMES, *_POSITION_NAMES, "a on background"]
    return tuple(sorted({word for name in names for word in name.split()}))


def prompt(colour: str, shape: str, background: str) -> str:
    return f"a {colour} {shape} on a {background} background"


def held_out_prompts() -> list[tuple[str, str, str]]:
    """(colour, shape, background) of every held-out pair on every background, in a fixed order."""
    return [(c, s, b) for c, s in sorted(HELD_OUT) for b in _BACKGROUND_NAMES]


def _distance(shape: torch.Tensor, qx: torch.Tensor, qy: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
    """Signed distance-like field (negative inside), in image-side units, for each row's shape."""
    circle = torch.hypot(qx, qy) - r
    square = torch.maximum(qx.abs(), qy.abs()) - 0.8 * r
    big = 1.3 * r  # triangle and star: circumradius
    triangle = torch.maximum(qy, torch.maximum(0.866 * qx - 0.5 * qy, -0.866 * qx - 0.5 * qy)) - big / 2
    angle = torch.atan2(qx, -qy) * (5 / (2 * math.pi))
    tip = (angle - torch.floor(angle) - 0.5).abs() * 2  # 1 at a tip, 0 between two tips
    star = (torch.hypot(qx, qy) - big * (0.45 + 0.55 * tip)) * 0.6
    fields = torch.stack([circle, square, triangle, star])  # [4, B, h, w]
    index = shape.view(1, -1, 1, 1).expand(1, *circle.shape)
    return fields.gather(0, index)[0]


def shape_mask(shape: str, cx: float, cy: float, radius: float, side: int) -> torch.Tensor:
    """[side, side] bool: the pixels whose centres lie inside `shape` placed at (cx, cy) with `radius`
    (fractions of the side), as render draws it."""
    coords = (torch.arange(side, dtype=torch.float32) + 0.5) / side
    distance = _distance(
        torch.tensor([SHAPES.index(shape)]),
        coords.view(1, 1, -1) - cx,
        coords.view(1, -1, 1) - cy,
        torch.tensor([radius]).view(1, 1, 1),
    )
    return distance[0] < 0


def render(
    scenes: Scenes, size: int, window: tuple[int, int, int] | None = None, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """[B, 3, h, w] in [-1, 1]: the scenes at `size` px, or the square window (top, left, side) of it."""
    top, left, side = window or (0, 0, size)
    coords = (torch.arange(side, device=device, dtype=torch.float32) + 0.5) / size
    ys = (coords + top / size).view(1, -1, 1)
    xs = (coords + left / size).view(1, 1, -1)
    cx, cy, radius = (t.to(device).view(-1, 1, 1) for t in (scenes.cx, scenes.cy, scenes.radius))
    distance = _distance(scenes.shape.to(device), xs - cx, ys - cy, radius)
    alpha = (0.5 - distance * size).clamp(0, 1).unsqueeze(1)
    palette = torch.tensor(list(COLOURS.values()), dtype=torch.float32, device=device) / 127.5 - 1
    backgrounds = torch.tensor(list(BACKGROUNDS.values()), dtype=torch.float32, device=device) / 127.5 - 1
    fg = palette[scenes.colour.to(device)].view(-1, 3, 1, 1)
    bg = backgrounds[scenes.background.to(device)].view(-1, 3, 1, 1)
    return bg + (fg - bg) * alpha


def scene_png(colour: str, shape: str, background: str, side: int = 256, seed: int = 0) -> bytes:
    """One scene of the given attributes (placement drawn from `seed`) as PNG bytes, an input image of
    the image flows."""
    scenes = scenes_for(colour, shape, background, 1, torch.Generator().manual_seed(seed))
    pixels = ((render(scenes, side)[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255)
    buffer = io.BytesIO()
    Image.fromarray(pixels.to(torch.uint8).numpy()).save(buffer, format="PNG")
    return buffer.getvalue()
