"""Writes docs/flows.png: variations, an interpolation, text-diff edits and inpainting, through a local
mesh on the demo bundle (256 px outputs).

    python tools/flows_contact_sheet.py [--bundle models/demo] [--out docs/flows.png]
"""

import argparse
import io
import pathlib
import sys

import numpy as np
import torch
from PIL import Image, ImageDraw

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.cli.local_mesh import LocalMesh  # noqa: E402
from services.client.sdk import GenerationClient  # noqa: E402
from training import world  # noqa: E402

CELL, LABEL = 160, 22


def scene(colour: str, shape: str, background: str, seed: int = 0) -> bytes:
    scenes = world.scenes_for(colour, shape, background, 1, torch.Generator().manual_seed(seed))
    pixels = ((world.render(scenes, 256)[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255)
    return png(pixels.to(torch.uint8).numpy())


def png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def rows(client: GenerationClient) -> list[tuple[str, list[bytes]]]:
    red_square = scene("red", "square", "white")
    white = png(np.full((256, 256, 3), 255, np.uint8))
    hole = np.zeros((256, 256), np.uint8)
    hole[48:208, 48:208] = 255
    return [
        ("variations of the first image",
         [red_square, *client.create_variations(red_square, num_images=4, size=256, seed=1).png_images]),
        ("interpolation: red circle image -> blue square image",
         client.interpolate(scene("red", "circle", "white"), scene("blue", "square", "white"),
                            num_images=5, size=256, seed=2).png_images),
        ("edit 'a red square' -> 'a blue square' at strength 0.4 / 0.6 / 0.8 / 1.0",
         [red_square, *(client.edit(red_square, "a blue square on a white background",
                                    original_caption="a red square on a white background", strength=s,
                                    size=256, seed=3).png_images[0] for s in (0.4, 0.6, 0.8, 1.0))]),
        ("inpainting 'a large green circle' into the masked centre",
         [white, png(hole), *client.inpaint(white, "a large green circle on a white background",
                                            mask=png(hole), num_images=3, size=256, seed=4).png_images]),
    ]


def sheet(content: list[tuple[str, list[bytes]]], path: pathlib.Path) -> None:
    columns = max(len(images) for _, images in content)
    canvas = Image.new("RGB", (columns * CELL, len(content) * (CELL + LABEL)), "white")
    draw = ImageDraw.Draw(canvas)
    for r, (label, images) in enumerate(content):
        top = r * (CELL + LABEL)
        draw.text((4, top + 5), label, fill="black")
        for c, data in enumerate(images):
            image = Image.open(io.BytesIO(data)).convert("RGB").resize((CELL, CELL), Image.Resampling.LANCZOS)
            canvas.paste(image, (c * CELL, top + LABEL))
    canvas.save(path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundle", default=str(REPO / "models" / "demo"))
    parser.add_argument("--out", default=str(REPO / "docs" / "flows.png"))
    args = parser.parse_args()
    with LocalMesh(args.bundle, stages=("text_encoder", "prior", "decoder", "upsampler_256")) as mesh, \
            GenerationClient(mesh.target) as client:
        sheet(rows(client), pathlib.Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
