"""Evaluate a bundle on the world's held-out (colour, shape) pairs; write a report and a contact sheet.

Metrics: CLIP text -> image retrieval top-1 over the held-out prompts (one rendered image each), and
CLIP zero-shot shape on rendered training scenes;
asked colour = dominant foreground colour (training.detector) and asked shape = CLIP zero-shot among the
world's shapes, on generated 64 px images of held-out and (separately) trained pairs; upsampler fidelity =
PSNR of each upsampler's output downsampled (area) back to its input size against that input, on the chain's
own images and on rendered held-out scenes; seconds for one 1024 px image, end to end in process; and the
decoder alone on rendered scenes' embeddings, held-out and trained pairs (is a miss the prior's or the
decoder's).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from services.decoder.model import DecoderJob
from services.inprocess_cascade import InProcessCascade, run_stage
from services.stage_registry import upsamplers
from services.upsampler.model import UpsampleJob
from training import world
from training.clip_features import FrozenClip
from training.detector import dominant_colour, dominant_shape
from training.sampling import images_by_size

SHEET_CELL = 256


def _normalised(x: torch.Tensor) -> torch.Tensor:
    return F.normalize(x.float(), dim=-1)


def retrieval_accuracy(clip: FrozenClip, seed: int) -> float:
    """Top-1 text -> image retrieval among one rendered image per held-out prompt."""
    generator = torch.Generator().manual_seed(seed)
    attributes = world.held_out_prompts()
    images = torch.cat(
        [
            world.render(world.scenes_for(c, s, b, 1, generator), clip.backend.image_size)
            for c, s, b in attributes
        ]
    )
    similarity = (
        _normalised(clip.text([world.prompt(*a) for a in attributes]).text_embedding)
        @ _normalised(clip.images(images)).T
    )
    return (similarity.argmax(dim=1) == torch.arange(len(attributes))).float().mean().item()


def zero_shot_shape(clip: FrozenClip, image: torch.Tensor, colour: str, background: str) -> str:
    """The shape whose prompt (same colour and background) CLIP finds nearest to the image."""
    texts = clip.text([world.prompt(colour, s, background) for s in world.SHAPES]).text_embedding
    scores = _normalised(clip.images(image[None])) @ _normalised(texts).T
    return world.SHAPES[int(scores.argmax())]


def rendered_shape_accuracy(clip: FrozenClip, seed: int, rows: int = 240) -> float:
    """CLIP zero-shot shape on rendered training scenes: whether the embeddings carry the shape at all."""
    scenes = world.sample_scenes(rows, torch.Generator().manual_seed(seed))
    images = world.render(scenes, clip.backend.image_size)
    colours, backgrounds = tuple(world.COLOURS), tuple(world.BACKGROUNDS)
    hits = sum(
        zero_shot_shape(clip, image, colours[c], backgrounds[b]) == world.SHAPES[s]
        for image, c, b, s in zip(
            images, scenes.colour.tolist(), scenes.background.tolist(), scenes.shape.tolist(), strict=True
        )
    )
    return hits / rows


def psnr(image: torch.Tensor, reference: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1], `image` area-downsampled to the reference's size first."""
    small = F.interpolate(image, size=reference.shape[-2:], mode="area")
    mse = ((small - reference) / 2).pow(2).mean().item()
    return 10 * torch.log10(torch.tensor(1.0 / max(mse, 1e-12))).item()


def upsampler_fidelity(stages: InProcessCascade, seed: int, rows: int = 4) -> dict[str, float]:
    """PSNR of each upsampler on rendered held-out scenes (clean sources of the world) at defaults."""
    generator = torch.Generator().manual_seed(seed)
    scenes = world.sample_scenes(rows, generator, held_out=True)
    fidelity = {}
    for upsampler in (stages.models[stage] for stage in upsamplers()):
        source = world.render(scenes, upsampler.output_size // 4)
        u = upsampler.defaults
        image = run_stage(
            upsampler, UpsampleJob(source, u.num_inference_steps, u.scheduler, generator, u.noise_level)
        )
        fidelity[upsampler.stage] = psnr(image, source)
    return fidelity


def attribute_accuracy(
    stages: InProcessCascade,
    clip: FrozenClip,
    seeds: list[int],
    guidance: float | None,
    attributes: list[tuple[str, str, str]] | None = None,
) -> dict[str, float]:
    """Asked colour and shape on images generated through the prior from (colour, shape, background)
    prompts (default: the held-out ones)."""
    attributes = attributes or world.held_out_prompts()
    prompts = [world.prompt(*a) for a in attributes]
    colour_hits = shape_hits = zero_shot_hits = total = 0
    for seed in seeds:
        images = images_by_size(stages, prompts, seed, size=64, decoder_guidance=guidance)[
            stages.decoder.image_size
        ]
        for image, (colour, shape, background) in zip(images, attributes, strict=True):
            colour_hits += dominant_colour(image) == colour
            shape_hits += dominant_shape(image) == shape
            zero_shot_hits += zero_shot_shape(clip, image, colour, background) == shape
            total += 1
    return {
        "colour": colour_hits / total,
        "shape": shape_hits / total,
        "shape_clip_zero_shot": zero_shot_hits / total,
        "images": total,
    }


def training_pairs() -> list[tuple[str, str]]:
    """One trained (colour, shape) pair per colour, the shapes spread over the world's four."""
    pairs = []
    for index, colour in enumerate(world.COLOURS):
        shapes = world.SHAPES[index % len(world.SHAPES) :] + world.SHAPES[: index % len(world.SHAPES)]
        pairs.append((colour, next(s for s in shapes if (colour, s) not in world.HELD_OUT)))
    return pairs


def trained_prompts() -> list[tuple[str, str, str]]:
    """(colour, shape, background) of the trained pairs of training_pairs() on every background."""
    return [(c, s, b) for c, s in training_pairs() for b in world.BACKGROUNDS]


def decoder_on_rendered_embeddings(
    stages: InProcessCascade, clip: FrozenClip, seed: int
) -> dict[str, dict[str, float]]:
    """The decoder alone: fed the CLIP image embedding of a rendered scene and its prompt (no prior),
    on held-out and on trained pairs, every background; the asked colour and shape hit rates. It tells
    a decoder that cannot draw a pair from a prior that cannot find its embedding."""
    generator = torch.Generator().manual_seed(seed)
    d = stages.decoder.defaults
    result = {}
    for name, attributes in (("held_out", world.held_out_prompts()), ("trained", trained_prompts())):
        scenes = [world.scenes_for(c, s, b, 1, generator) for c, s, b in attributes]
        rendered = torch.cat([world.render(scene, clip.backend.image_size) for scene in scenes])
        text, _ = stages.text_encoder.encode_text([world.prompt(*a) for a in attributes])
        images = run_stage(
            stages.decoder,
            DecoderJob(
                clip.images(rendered),
                text,
                stages.text_encoder.unconditional(),
                d.num_inference_steps,
                d.guidance_scale,
                d.scheduler,
                generator,
            ),
        )
        pairs = list(zip(images, attributes, strict=True))
        result[name] = {
            "colour": sum(dominant_colour(i) == a[0] for i, a in pairs) / len(images),
            "shape": sum(dominant_shape(i) == a[1] for i, a in pairs) / len(images),
            "images": len(images),
        }
    return result


def _to_pil(image: torch.Tensor) -> Image.Image:
    array = ((image.clamp(-1, 1) + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    return Image.fromarray(array)


def contact_sheet(rows: list[tuple[str, dict[int, torch.Tensor]]], path: Path) -> None:
    """One row per prompt: the prompt, then 64 (enlarged) / 256 / 1024 (reduced) px side by side."""
    label = 24
    sheet = Image.new("RGB", (3 * SHEET_CELL, len(rows) * (SHEET_CELL + label)), "white")
    draw = ImageDraw.Draw(sheet)
    for r, (prompt, images) in enumerate(rows):
        top = r * (SHEET_CELL + label)
        draw.text((4, top + 6), f"{prompt}   (64 / 256 / 1024 px)", fill="black")
        for c, size in enumerate((64, 256, 1024)):
            cell = _to_pil(images[size]).resize(
                (SHEET_CELL, SHEET_CELL), Image.NEAREST if size < SHEET_CELL else Image.LANCZOS
            )
            sheet.paste(cell, (c * SHEET_CELL, top + label))
    sheet.save(path)


def evaluate(bundle: Path, out: Path, seeds: list[int], sweep: list[float]) -> dict:
    """Run every metric, write out/eval_report.json + out/contact_sheet.png; returns the report."""
    torch.set_grad_enabled(False)
    stages = InProcessCascade.open(bundle)
    clip = FrozenClip(stages.text_encoder.backend)
    report: dict = {
        "bundle": str(bundle),
        "seeds": seeds,
        "retrieval_top1": retrieval_accuracy(clip, seed=0),
        "clip_shape_zero_shot_rendered": rendered_shape_accuracy(clip, seed=0),
        "default": attribute_accuracy(stages, clip, seeds, None),
        "default_trained_pairs": attribute_accuracy(stages, clip, seeds, None, trained_prompts()),
        "decoder_on_rendered_embeddings": decoder_on_rendered_embeddings(stages, clip, seed=0),
        "decoder_guidance_sweep": {str(g): attribute_accuracy(stages, clip, seeds, g) for g in sweep},
    }
    held_out = world.held_out_prompts()
    backgrounds = len(world.BACKGROUNDS)
    sheet_prompts = [
        world.prompt(*held_out[i * backgrounds + i % backgrounds])
        for i in range(len(held_out) // backgrounds)
    ]
    began = time.perf_counter()
    images_by_size(stages, sheet_prompts[:1], seed=0, size=1024)
    report["seconds_per_1024_image"] = round(time.perf_counter() - began, 1)
    images = images_by_size(stages, sheet_prompts, seed=0, size=1024)
    report["psnr_db"] = {
        "upsampler_256": psnr(images[256], images[64]),
        "upsampler_1024": psnr(images[1024], images[256]),
    }
    report["psnr_db_rendered_sources"] = upsampler_fidelity(stages, seed=0)
    out.mkdir(parents=True, exist_ok=True)
    contact_sheet(
        [(p, {s: images[s][i] for s in images}) for i, p in enumerate(sheet_prompts)],
        out / "contact_sheet.png",
    )
    (out / "eval_report.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
