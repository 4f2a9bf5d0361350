"""A checkpoint in Karlo's layout (diffusers' unCLIP folders, transformers CLIP) opens in every stage as
it is; an incomplete one fails with one line naming the missing file."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from services.bundle.loader import BundleError, open_bundle
from services.decoder.model import DecoderModel
from services.prior.model import PriorModel
from services.stage_registry import model_stages
from services.text_encoder.model import TextEncoderModel
from services.upsampler.model import UpsamplerModel
from unclip_mesh.bundles.tiny_karlo import write_tiny_karlo
from unclip_mesh.cli.main import main

LOADERS = {
    "text_encoder": TextEncoderModel.load,
    "prior": PriorModel.load,
    "decoder": DecoderModel.load,
    "upsampler_256": lambda bundle: UpsamplerModel.load(bundle, "upsampler_256"),
}


@pytest.fixture
def karlo_copy(tiny_karlo, tmp_path) -> Path:
    return Path(shutil.copytree(tiny_karlo.root, tmp_path / "karlo"))


def test_karlo_layout_opens_in_every_stage(tiny_karlo, karlo_models):
    bundle = open_bundle(tiny_karlo.root)
    assert set(bundle.manifest.stages) == set(LOADERS)
    assert bundle.roles("text_encoder") == {"text_encoder", "tokenizer", "image_encoder", "feature_extractor"}
    assert bundle.roles("decoder") == {"decoder", "text_proj", "scheduler"}
    assert bundle.defaults("decoder").num_inference_steps == 25  # UnCLIPPipeline's defaults
    assert karlo_models.upsampler_256.last is not karlo_models.upsampler_256.first
    assert karlo_models.text_encoder.image_size == 32


@pytest.mark.parametrize(
    "stage, missing",
    [
        ("text_encoder", "tokenizer/merges.txt"),
        ("text_encoder", "tokenizer/tokenizer_config.json"),
        ("text_encoder", "text_encoder/model.safetensors"),
        ("text_encoder", "feature_extractor/preprocessor_config.json"),
        ("prior", "prior_scheduler/scheduler_config.json"),
        ("decoder", "text_proj/config.json"),
        ("upsampler_256", "super_res_last/diffusion_pytorch_model.safetensors"),
    ],
)
def test_a_missing_file_is_named_on_one_line(karlo_copy, stage, missing):
    (karlo_copy / missing).unlink()
    with pytest.raises(BundleError) as error:
        LOADERS[stage](open_bundle(karlo_copy))
    assert str(error.value) == f"{missing}: missing"


@pytest.mark.parametrize(
    "folder, named",
    [
        ("tokenizer", "tokenizer/tokenizer_config.json"),
        ("text_proj", "text_proj/config.json"),
        ("feature_extractor", "feature_extractor/preprocessor_config.json"),
    ],
)
def test_a_missing_folder_is_named_by_its_first_file(karlo_copy, folder, named):
    shutil.rmtree(karlo_copy / folder)
    stage = "decoder" if folder == "text_proj" else "text_encoder"
    with pytest.raises(BundleError) as error:
        LOADERS[stage](open_bundle(karlo_copy))
    assert str(error.value) == f"{named}: missing"


def test_unreadable_text_encoder_weights_are_named(karlo_copy):
    (karlo_copy / "text_encoder/model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(BundleError) as error:
        TextEncoderModel.load(open_bundle(karlo_copy))
    message = str(error.value)
    assert message.startswith("text_encoder/model.safetensors: cannot load: ") and "\n" not in message


@pytest.mark.parametrize(
    "layout, stages, text_roles",
    [
        (
            "text-to-image",
            {"text_encoder", "prior", "decoder", "upsampler_256"},
            {"text_encoder", "tokenizer"},
        ),
        (
            "image-variations",
            {"text_encoder", "decoder", "upsampler_256"},
            {"text_encoder", "tokenizer", "image_encoder", "feature_extractor"},
        ),
    ],
)
def test_each_published_layout_verifies_with_the_stages_it_has(tmp_path, capsys, layout, stages, text_roles):
    folder = write_tiny_karlo(tmp_path / layout, layout=layout).root
    bundle = open_bundle(folder)
    assert set(bundle.manifest.stages) == stages
    assert bundle.roles("text_encoder") == text_roles
    assert main(["bundle", "verify", str(folder)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        f"{stage}: ok" for stage in model_stages() if stage in stages
    ]
