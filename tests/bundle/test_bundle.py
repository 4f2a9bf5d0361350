"""Bundles: tiny round trip, one-line errors naming the file, diffusers' layout without a manifest."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from safetensors.torch import load_file, save_file

from services.bundle.loader import BundleError, StageUnavailable, open_bundle
from services.bundle.manifest import MANIFEST_NAME, Manifest, SamplingDefaults
from services.decoder.model import DecoderModel
from services.prior.model import PriorModel
from services.stage_registry import layout, model_stages
from services.upsampler.model import UpsamplerModel
from unclip_mesh.bundles.tiny import TINY_DEFAULTS
from unclip_mesh.bundles.writer import write_manifest

DECODER_WEIGHTS = "decoder/diffusion_pytorch_model.safetensors"


@pytest.fixture
def bundle_copy(tiny_bundle, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_bundle.root, tmp_path / "bundle"))


def _single_line_naming(error: pytest.ExceptionInfo, rel: str) -> None:
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith(rel), message


def test_tiny_bundle_round_trip(tiny_bundle):
    bundle = open_bundle(tiny_bundle.root)
    assert bundle.name == "tiny-random"
    assert set(bundle.manifest.stages) == set(model_stages())
    for stage in model_stages():
        bundle.verify(stage)
    assert bundle.defaults("decoder") == TINY_DEFAULTS["decoder"]
    assert bundle.stage_dir("upsampler_256", "last") == tiny_bundle.root / "super_res_last"
    assert bundle.stage_dir("prior") == tiny_bundle.root / "prior"
    assert bundle.scheduler_config("prior")["prediction_type"] == "sample"
    manifest = Manifest.read(tiny_bundle.root / MANIFEST_NAME)
    assert Manifest.from_dict(json.loads(manifest.to_json())) == manifest
    assert DECODER_WEIGHTS in manifest.stages["decoder"].files


def test_missing_file_is_named(bundle_copy):
    (bundle_copy / DECODER_WEIGHTS).unlink()
    with pytest.raises(BundleError) as error:
        open_bundle(bundle_copy).verify("decoder")
    _single_line_naming(error, DECODER_WEIGHTS)


def test_checksum_mismatch_is_named(bundle_copy):
    path = bundle_copy / "prior_scheduler/scheduler_config.json"
    path.write_text(path.read_text().replace("5.0", "4.0"))
    with pytest.raises(BundleError) as error:
        PriorModel.load(open_bundle(bundle_copy))
    _single_line_naming(error, "prior_scheduler/scheduler_config.json")
    assert "sha256" in str(error.value)


def test_shape_mismatch_in_safetensors_is_named(bundle_copy):
    weights = load_file(bundle_copy / DECODER_WEIGHTS)
    weights["conv_in.weight"] = weights["conv_in.weight"][:, :2].contiguous()
    save_file(weights, bundle_copy / DECODER_WEIGHTS, metadata={"format": "pt"})
    write_manifest(bundle_copy, name="tampered", version="1", stages=layout(), defaults=TINY_DEFAULTS)
    with pytest.raises(BundleError) as error:
        DecoderModel.load(open_bundle(bundle_copy))
    _single_line_naming(error, DECODER_WEIGHTS)


def test_invalid_manifest_is_named(bundle_copy):
    (bundle_copy / MANIFEST_NAME).write_text('{"name": "x"}')
    with pytest.raises(BundleError) as error:
        open_bundle(bundle_copy)
    _single_line_naming(error, MANIFEST_NAME)


def test_not_a_bundle(tmp_path):
    with pytest.raises(BundleError, match="not a bundle"):
        open_bundle(tmp_path)


def test_unknown_scheduler_in_defaults_is_rejected():
    with pytest.raises(ValueError, match="unknown scheduler"):
        SamplingDefaults(num_inference_steps=3, scheduler="euler")


def test_diffusers_layout_opens_with_pipeline_defaults(bundle_copy):
    (bundle_copy / MANIFEST_NAME).unlink()
    shutil.rmtree(bundle_copy / "super_res_1024")
    shutil.rmtree(bundle_copy / "super_res_1024_scheduler")
    shutil.rmtree(bundle_copy / "super_res_last")
    (bundle_copy / "model_index.json").write_text(json.dumps({"_class_name": "UnCLIPPipeline"}))
    bundle = open_bundle(bundle_copy)
    assert bundle.defaults("prior") == SamplingDefaults(25, 4.0, "unclip")
    assert bundle.defaults("decoder") == SamplingDefaults(25, 8.0, "unclip")
    assert bundle.defaults("upsampler_256").num_inference_steps == 7
    assert not bundle.has_stage("upsampler_1024")
    with pytest.raises(StageUnavailable, match="upsampler_1024 is not available"):
        UpsamplerModel.load(bundle, "upsampler_1024")
    upsampler = UpsamplerModel.load(bundle, "upsampler_256")  # super_res_last falls back to first
    assert upsampler.last is upsampler.first
    PriorModel.load(bundle)
