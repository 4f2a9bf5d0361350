"""Prints a markdown table of EditImage red -> blue on the demo bundle, one row per decoder steps,
guidance, strength and seed: what the world's detectors see after editing a red square, circle,
triangle and star on white (background, foreground colour, shape), and with --sheet a PNG of the
edits (a row per line).

Run from the checkout:
`.venv/bin/python tools/edit_sweep.py [--steps 25] [--guidance 2,3,5,8] [--strength 0.6,0.8] [--seeds 3]
[--sheet edits.png]` (a few seconds an edit on two cores; it starts a local mesh of the text encoder,
prior and decoder). Decoding from the inverted noise is deterministic (DDIM, eta 0); the seed draws
the light forward noise the inversion starts from.
"""

import argparse
import io
import itertools
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from services.orchestrator.input_images import as_stage_image  # noqa: E402
from training.detector import background_colour, dominant_colour, dominant_shape  # noqa: E402
from training.world import SHAPES, prompt, scene_png  # noqa: E402
from unclip_mesh.cli.local_mesh import LocalMesh  # noqa: E402
from unclip_mesh.client.sdk import GenerationClient, Sampling  # noqa: E402

SIDE = 64  # the decoder's output: where the edit acts


def detected(png: bytes) -> tuple[str, str, str]:
    """(background, foreground colour, shape) as the world's detectors read them."""
    pixels = as_stage_image(Image.open(io.BytesIO(png)), SIDE)[0]
    return background_colour(pixels), dominant_colour(pixels), dominant_shape(pixels)


def edit(client: GenerationClient, shape: str, decoder: Sampling, strength: float, seed: int) -> bytes:
    """The 64 px PNG of a red `shape` on white edited to blue (tools/flows_contact_sheet.py draws it too)."""
    result = client.edit(
        scene_png("red", shape, "white"),
        prompt("blue", shape, "white"),
        original_caption=prompt("red", shape, "white"),
        strength=strength,
        size=SIDE,
        seed=seed,
        stages={"decoder": decoder},
    )
    return result.png_images[0]


def numbers(listed: str, kind: type) -> list:
    return [kind(value) for value in listed.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default="25", help="decoder (and inversion) steps")
    parser.add_argument("--guidance", default="2,3,5,8")
    parser.add_argument("--strength", default="0.6,0.8")
    parser.add_argument("--seeds", default="3")
    parser.add_argument("--bundle", type=Path, default=REPO / "models" / "demo")
    parser.add_argument("--sheet", type=Path, help="also write the edits here, a row per table line")
    args = parser.parse_args()
    print("| steps | guidance | strength | seed | " + " | ".join(SHAPES) + " | white, blue, shape kept |")
    print("| ---: | ---: | ---: | ---: |" + " --- |" * len(SHAPES) + " ---: |")
    sheet_rows = []
    with (
        LocalMesh(args.bundle, stages=("text_encoder", "prior", "decoder")) as mesh,
        GenerationClient(mesh.target) as client,
    ):
        for steps, guidance, strength, seed in itertools.product(
            numbers(args.steps, int),
            numbers(args.guidance, float),
            numbers(args.strength, float),
            numbers(args.seeds, int),
        ):
            decoder = Sampling(steps=steps, guidance=guidance)
            edits = [edit(client, shape, decoder, strength, seed) for shape in SHAPES]
            seen = [detected(image) for image in edits]
            kept = sum(
                seen_as == ("white", "blue", shape) for shape, seen_as in zip(SHAPES, seen, strict=True)
            )
            cells = " | ".join(" ".join(map(str, seen_as)) for seen_as in seen)
            print(f"| {steps} | {guidance:g} | {strength:g} | {seed} | {cells} | {kept}/4 |", flush=True)
            sheet_rows.append(edits)
    if args.sheet:
        sheet = Image.new("RGB", (SIDE * len(SHAPES), SIDE * len(sheet_rows)))
        for row, edits in enumerate(sheet_rows):
            for column, png in enumerate(edits):
                sheet.paste(Image.open(io.BytesIO(png)).convert("RGB"), (SIDE * column, SIDE * row))
        sheet.save(args.sheet)


if __name__ == "__main__":
    main()
