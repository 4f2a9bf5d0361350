"""Draws docs/flows_contact_sheet.png: each image flow of the mesh on the demo bundle, one row each
(input(s) on the left, outputs to the right), with the settings of tests/e2e/test_demo_flows.py.

Run from the checkout: `.venv/bin/python tools/flows_contact_sheet.py [OUT.png]` (about a minute on two
cores; it starts a local mesh of the text encoder, prior and decoder).
"""

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tools.edit_sweep import edit  # noqa: E402
from training.world import SHAPES, scene_png  # noqa: E402
from unclip_mesh.cli.local_mesh import LocalMesh  # noqa: E402
from unclip_mesh.client.sdk import GenerationClient, Sampling  # noqa: E402

CELL, LABEL = 128, 22


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def rows(client: GenerationClient) -> list[tuple[str, list[bytes]]]:
    red_square = scene_png("red", "square", "white")
    start, end = scene_png("red", "circle", "white"), scene_png("blue", "square", "white")
    white = png_bytes(np.full((256, 256, 3), 255, np.uint8))
    mask = np.zeros((256, 256), np.uint8)
    mask[48:208, 48:208] = 255
    return [
        (
            "CreateVariations(eta=0.8), seed 1",
            [
                red_square,
                *client.create_variations(red_square, num_images=4, eta=0.8, size=64, seed=1).png_images,
            ],
        ),
        (
            "InterpolateImages(red circle -> blue square, 5)",
            [start, *client.interpolate(start, end, num_images=5, size=64, seed=2).png_images, end],
        ),
        (
            "EditImage(red -> blue, strength 0.5, seed 1): each input, then its edit",
            [
                png
                for shape in SHAPES
                for png in (scene_png("red", shape, "white"), edit(client, shape, Sampling(), 0.5, seed=1))
            ],
        ),
        (
            "InpaintImage(white, centre mask, 'a large green circle on a white background')",
            [
                white,
                png_bytes(mask),
                *client.inpaint(
                    white,
                    "a large green circle on a white background",
                    mask=png_bytes(mask),
                    num_images=2,
                    size=64,
                    seed=4,
                ).png_images,
            ],
        ),
    ]


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "flows_contact_sheet.png"
    with (
        LocalMesh(REPO / "models" / "demo", stages=("text_encoder", "prior", "decoder")) as mesh,
        GenerationClient(mesh.target) as client,
    ):
        sheet_rows = rows(client)
    width = max(len(images) for _, images in sheet_rows) * CELL
    sheet = Image.new("RGB", (width, len(sheet_rows) * (CELL + LABEL)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (title, images) in enumerate(sheet_rows):
        top = r * (CELL + LABEL)
        draw.text((4, top + 5), title, fill="black")
        for c, png in enumerate(images):
            cell = Image.open(io.BytesIO(png)).convert("RGB").resize((CELL, CELL), Image.Resampling.NEAREST)
            sheet.paste(cell, (c * CELL, top + LABEL))
    sheet.save(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
