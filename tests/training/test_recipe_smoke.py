"""CI smoke test of the recipe: every training step runs a few iterations at tiny sizes, resumes, and the
assembled bundle loads into the serving stage models and draws a 1024 px image."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from diffusers import UNet2DConditionModel

from services.inprocess_cascade import InProcessCascade
from training import bundle, clip, decoder, prior, upsampler
from training.sampling import images_by_size

CONFIGS = Path(__file__).resolve().parents[2] / "training" / "configs"
TINY_CLIP = {
    "embed_dim": 32,
    "quick_gelu": False,
    "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "head_width": 16, "patch_size": 8},
    "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
}
TINY = {
    "clip": {"batch_size": 4},
    "prior": {
        "batch_size": 4,
        "statistics_samples": 256,
        "prior": {"num_attention_heads": 2, "attention_head_dim": 16, "num_layers": 1},
    },
    "decoder": {
        "batch_size": 2,
        "decoder": {
            "block_out_channels": [16, 32, 32],
            "norm_num_groups": 8,
            "cross_attention_dim": 32,
            "attention_head_dim": 8,
            "sample_size": 32,
        },
    },
    "upsampler_256": {"batch_size": 2, "network": {"block_out_channels": [8, 16, 16], "norm_num_groups": 4}},
    "upsampler_1024": {"batch_size": 1, "network": {"block_out_channels": [8, 16, 16], "norm_num_groups": 4}},
}
STEPS = 3


def _tiny_config(name: str, runs: Path) -> dict:
    config = json.loads((CONFIGS / f"{name}.json").read_text())
    for key, value in TINY[name].items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    if "clip" in config and name != "clip":
        config["clip"] = str(runs / "clip/final/text_encoder")
    config["torch_threads"] = 0
    config["loop"].update(run_dir=str(runs / name), steps=STEPS, checkpoint_every=2, warmup_steps=2)
    return config


@pytest.fixture(scope="module")
def trained_bundle(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("recipe")
    runs = root / "runs"
    (root / "tiny-clip.json").write_text(json.dumps(TINY_CLIP))
    steps = {
        "clip": clip,
        "prior": prior,
        "decoder": decoder,
        "upsampler_256": upsampler,
        "upsampler_1024": upsampler,
    }
    for name, module in steps.items():
        config = _tiny_config(name, runs)
        if name == "clip":
            config["model_config"] = str(root / "tiny-clip.json")
        path = root / f"{name}.json"
        path.write_text(json.dumps(config))
        module.main(["--config", str(path), "--device", "cpu"])
    bundle_config = json.loads((CONFIGS / "bundle.json").read_text())
    bundle_config["defaults"] = {
        stage: {**d, "num_inference_steps": 2} for stage, d in bundle_config["defaults"].items()
    }
    bundle.assemble(bundle_config, runs, root / "bundle")
    return root


def test_each_step_records_its_time_and_resumes(trained_bundle):
    runs = trained_bundle / "runs"
    for name in TINY:
        timing = json.loads((runs / name / "timing.json").read_text())
        assert timing["steps"] == STEPS
    config = trained_bundle / "prior.json"
    prior.main(["--config", str(config), "--device", "cpu"])  # finished: resumes at the end, no new steps
    assert json.loads((runs / "prior/timing.json").read_text())["steps"] == STEPS


def test_bundle_loads_into_the_stage_models_and_draws_1024(trained_bundle):
    stages = InProcessCascade.open(trained_bundle / "bundle")
    images = images_by_size(stages, ["a red circle on a white background"], seed=0, size=1024)
    assert {size: tuple(image.shape) for size, image in images.items()} == {
        32: (1, 3, 32, 32),
        256: (1, 3, 256, 256),
        1024: (1, 3, 1024, 1024),
    }
    assert all(torch.isfinite(image).all() for image in images.values())


def test_decoder_continues_from_a_bundle(trained_bundle):
    """decoder_continue.json: the decoder starts from a bundle's weights, not from scratch."""
    source = trained_bundle / "bundle"
    config = json.loads((CONFIGS / "decoder_continue.json").read_text())
    config.update(init=str(source), clip=str(source / "text_encoder"), batch_size=2, torch_threads=0)
    run_dir = trained_bundle / "runs" / "decoder_continue"
    config["loop"].update(run_dir=str(run_dir), steps=1, warmup_steps=1, max_minutes=None)
    path = trained_bundle / "decoder_continue.json"
    path.write_text(json.dumps(config))
    start = UNet2DConditionModel.from_pretrained(source / "decoder").state_dict()
    decoder.main(["--config", str(path), "--device", "cpu"])
    continued = UNet2DConditionModel.from_pretrained(run_dir / "final" / "decoder").state_dict()
    assert continued.keys() == start.keys()
    drift = max((continued[k].float() - start[k].float()).abs().max().item() for k in start)
    assert 0 < drift < 0.1  # one small step away from the bundle's weights, not a fresh network
