"""Assemble the trained components into a bundle folder (models/demo) with its manifest.

`python -m training.bundle --config training/configs/bundle.json`: copies each run's exported folder
into diffusers' unCLIP layout and writes unclip_bundle.json with the per-stage default sampling.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from services.bundle.loader import Bundle, open_bundle
from services.bundle.manifest import SamplingDefaults
from services.stage_registry import layout
from training import world
from unclip_mesh.bundles.writer import write_manifest

STAGE_FOLDERS = layout()
del STAGE_FOLDERS["upsampler_256"]["last"]  # one trained network runs every upsampling step


def to_float16(folder: Path) -> None:
    """Store every float32 tensor of the folder's safetensors files as float16 (half the size; the
    stage models load them into float32 modules)."""
    for path in sorted(folder.rglob("*.safetensors")):
        tensors = {k: v.half() if v.dtype == torch.float32 else v for k, v in load_file(path).items()}
        save_file(tensors, path, metadata={"format": "pt"})


def assemble(config: dict, runs: Path, out: Path) -> Bundle:
    """Copy config["sources"] (bundle folder -> path under `runs`) into `out` and write the manifest."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    for folder, source in config["sources"].items():
        shutil.copytree(runs / source, out / folder)
    if config.get("weights_dtype") == "float16":
        to_float16(out)
    defaults = {stage: SamplingDefaults(**values) for stage, values in config["defaults"].items()}
    write_manifest(
        out,
        name=config["name"],
        version=config["version"],
        stages=STAGE_FOLDERS,
        defaults=defaults,
        vocabulary=world.vocabulary(),
    )
    return open_bundle(out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--runs", type=Path, default=Path("runs"), help="where the training runs are")
    parser.add_argument("--out", type=Path, default=Path("models/demo"))
    args = parser.parse_args(argv)
    bundle = assemble(json.loads(args.config.read_text()), args.runs, args.out)
    print(f"wrote bundle {bundle.name} {bundle.version} to {args.out}")


if __name__ == "__main__":
    main()
