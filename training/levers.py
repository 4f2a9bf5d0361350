"""Measure decoder training levers: short runs of a fixed number of steps, one lever at a time.

    python -m training.levers --levers training/configs/decoder_levers.json --steps 800 --out runs/levers

Every lever is the base decoder config with the spec's common keys and its own few keys overridden, trained
with the same seed for the same number of steps (so background load changes only its wall time), put into a
copy of the base bundle in place of its decoder and scored by the decoder-alone eval (training.evaluation.
decoder_on_rendered_embeddings) on trained and held-out pairs over several seeds. A finished lever is not
run again (OUT/NAME/result.json), so two processes may share OUT with --only; the table of every finished
lever is printed and written to OUT/levers.md.

    python -m training.levers --score-run runs/decoder --config training/configs/decoder.json

scores a running (or finished) decoder run at its latest checkpoint, from a copy of it, and adds a
row to RUN/curve.json: a learning curve of the decoder-alone eval while the run goes on.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import torch

from services.bundle.loader import open_bundle
from services.inprocess_cascade import InProcessCascade
from training.bundle import STAGE_FOLDERS
from training.clip_features import FrozenClip
from training.evaluation import decoder_on_rendered_embeddings
from training.loop import CHECKPOINT
from unclip_mesh.bundles.writer import write_manifest

DECODER_FOLDERS = STAGE_FOLDERS["decoder"].values()
RESULT = "result.json"


def merged(base: dict, overrides: dict) -> dict:
    """`base` with `overrides` applied key by key, nested dicts merged."""
    out = dict(base)
    for key, value in overrides.items():
        both_dicts = isinstance(value, dict) and isinstance(base.get(key), dict)
        out[key] = merged(base[key], value) if both_dicts else value
    return out


def bundle_with_decoder(base_bundle: Path, exported: Path, out: Path) -> Path:
    """A copy of `base_bundle` whose decoder folders come from a training run's export."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(base_bundle, out)
    for folder in DECODER_FOLDERS:
        shutil.rmtree(out / folder)
        shutil.copytree(exported / folder, out / folder)
    manifest = open_bundle(base_bundle).manifest
    write_manifest(
        out,
        name=manifest.name,
        version=manifest.version,
        stages={s: e.folders for s, e in manifest.stages.items()},
        defaults={s: e.defaults for s, e in manifest.stages.items() if e.defaults},
        vocabulary=manifest.vocabulary,
    )
    return out


def score(bundle: Path, seeds: list[int]) -> dict[str, float]:
    """Shape and colour hit rates of the decoder alone, held-out and trained pairs, over `seeds`."""
    torch.set_grad_enabled(False)
    stages = InProcessCascade.open(bundle)
    clip = FrozenClip(stages.text_encoder.backend)
    totals: dict[str, float] = {}
    for seed in seeds:
        for split, rates in decoder_on_rendered_embeddings(stages, clip, seed).items():
            for measure in ("shape", "colour"):
                key = f"{split}_{measure}"
                totals[key] = totals.get(key, 0.0) + rates[measure] / len(seeds)
    return totals


def train_to(config: dict, run_dir: Path, steps: int, log: Path) -> None:
    """Run training.decoder with `config` in `run_dir` up to `steps` (a copied checkpoint at `steps`
    only exports its EMA weights)."""
    config = {
        **config,
        "loop": {**config["loop"], "run_dir": str(run_dir), "steps": steps, "max_minutes": None},
    }
    (run_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    subprocess.run(
        [sys.executable, "-m", "training.decoder", "--config", str(run_dir / "config.json")],
        check=True,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )


def score_run(run: Path, config: dict, bundle: Path, seeds: list[int]) -> dict:
    """The decoder-alone eval of `run`'s latest checkpoint, added to run/curve.json."""
    snapshot = run.parent / f"{run.name}_snapshot"
    if snapshot.exists():
        shutil.rmtree(snapshot)
    snapshot.mkdir(parents=True)
    shutil.copy(run / CHECKPOINT, snapshot / CHECKPOINT)
    state = torch.load(snapshot / CHECKPOINT, map_location="cpu", weights_only=False)
    train_to(config, snapshot, state["step"], snapshot / "export.log")
    row = {
        "step": state["step"],
        "minutes": round(state["elapsed"] / 60, 1),
        **score(bundle_with_decoder(bundle, snapshot / "final", snapshot / "bundle"), seeds),
    }
    shutil.rmtree(snapshot)
    curve_path = run / "curve.json"
    curve = json.loads(curve_path.read_text()) if curve_path.exists() else []
    curve_path.write_text(json.dumps([*curve, row], indent=2) + "\n")
    return row


def table(results: dict[str, dict]) -> str:
    lines = [
        "| lever | trained shape | held-out shape | trained colour | held-out colour | samples/min |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in results.items():
        lines.append(
            f"| {name} | {r['trained_shape']:.0%} | {r['held_out_shape']:.0%} "
            f"| {r['trained_colour']:.0%} | {r['held_out_colour']:.0%} "
            f"| {r['samples_per_minute']:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--levers", type=Path, help="JSON: {base, bundle, common: overrides, levers: {name: overrides}}"
    )
    parser.add_argument(
        "--score-run", type=Path, help="a decoder run folder to score at its latest checkpoint"
    )
    parser.add_argument("--config", type=Path, help="with --score-run: the run's decoder config")
    parser.add_argument(
        "--bundle", type=Path, default=Path("models/demo"), help="with --score-run: base bundle"
    )
    parser.add_argument("--steps", type=int, default=800)
    parser.add_argument("--seeds", type=int, default=4, help="eval seeds (48 images each)")
    parser.add_argument("--out", type=Path, default=Path("runs/levers"))
    parser.add_argument("--only", default="", help="comma-separated lever names (default: all)")
    args = parser.parse_args(argv)
    if args.score_run:
        print(
            score_run(
                args.score_run, json.loads(args.config.read_text()), args.bundle, list(range(args.seeds))
            )
        )
        return
    spec = json.loads(args.levers.read_text())
    base = json.loads(Path(spec["base"]).read_text())
    wanted = [n for n in args.only.split(",") if n] or list(spec["levers"])
    for name in wanted:
        folder = args.out / name
        if (folder / RESULT).exists():
            continue
        config = merged(merged(base, spec.get("common", {})), spec["levers"][name])
        config = {**config, "loop": {**config["loop"], "checkpoint_every": args.steps}}
        (folder / "run").mkdir(parents=True, exist_ok=True)
        train_to(config, folder / "run", args.steps, folder / "train.log")
        timing = json.loads((folder / "run" / "timing.json").read_text())
        bundle = bundle_with_decoder(Path(spec["bundle"]), folder / "run" / "final", folder / "bundle")
        result = {
            **score(bundle, list(range(args.seeds))),
            "steps": timing["steps"],
            "batch_size": config["batch_size"],
            "torch_threads": config.get("torch_threads", 0),
            "samples_per_minute": timing["steps"] * config["batch_size"] / timing["seconds"] * 60,
        }
        shutil.rmtree(bundle)
        (folder / RESULT).write_text(json.dumps(result, indent=2) + "\n")
        print(f"{name}: {result}", flush=True)
    results = {
        name: json.loads((args.out / name / RESULT).read_text())
        for name in spec["levers"]
        if (args.out / name / RESULT).exists()
    }
    (args.out / "levers.md").write_text(table(results) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
