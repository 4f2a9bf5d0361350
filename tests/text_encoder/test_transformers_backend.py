"""transformers CLIP weights served through open_clip: the same tokens, embeddings, token states and
image embeddings as transformers' own CLIP{Text,Vision}ModelWithProjection on the tiny checkpoint."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch
from open_clip.tokenizer import SimpleTokenizer
from PIL import Image
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionModelWithProjection,
)

from services.bundle.loader import open_bundle
from services.runtime.errors import FailedPrecondition
from services.text_encoder.model import TextEncoderModel
from services.text_encoder.transformers_backend import (
    TransformersClipBackend,
    load_image_processor,
    load_text,
)
from tests.karlo_reference import relative_error

PROMPTS = ["an astronaut riding a horse", "wow!! a red cube!", "", "word " * 100]
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference_text(tiny_karlo):
    return (
        CLIPTextModelWithProjection.from_pretrained(tiny_karlo.root / "text_encoder").eval(),
        CLIPTokenizer.from_pretrained(tiny_karlo.root / "tokenizer"),
    )


def _reference_tokens(tokenizer: CLIPTokenizer, prompts: list[str]):
    return tokenizer(
        prompts,
        padding="max_length",
        max_length=tokenizer.model_max_length,
        truncation=True,
        return_tensors="pt",
    )


def test_tokens_are_the_checkpoints_own(karlo_models, reference_text):
    backend = karlo_models.text_encoder.backend
    tokens = backend.tokenize(PROMPTS)
    expected = _reference_tokens(reference_text[1], PROMPTS)
    assert torch.equal(tokens.ids, expected.input_ids)
    assert torch.equal(tokens.mask, expected.attention_mask.bool())
    assert tokens.truncated == [False, False, False, True]
    assert backend.tokenizer.pad_token == "!" and backend.tokenizer.pad_token_id == 0


def test_exclamation_mark_is_the_pad_token_not_plain_bpe(karlo_models):
    """'!' is a special token here: id 0, never merged, and still inside the attention mask."""
    tokens = karlo_models.text_encoder.backend.tokenize(["wow!!"])
    plain = SimpleTokenizer()
    plain_ids = [plain.sot_token_id, *plain.encode("wow!!"), plain.eot_token_id]
    ours = tokens.ids[0, : int(tokens.mask[0].sum())].tolist()
    assert ours[2:4] == [0, 0] and ours != plain_ids
    assert int(tokens.mask.sum()) == 5  # start, wow, !, !, end


def test_embeddings_and_token_states_match_transformers(karlo_models, reference_text):
    model, reference = karlo_models.text_encoder, reference_text[0]
    ids = _reference_tokens(reference_text[1], PROMPTS).input_ids
    with torch.inference_mode():
        expected = reference(ids)
        embedding, states = model.backend.encode_tokens(ids)
    assert relative_error(embedding, expected.text_embeds) <= TOLERANCE
    assert relative_error(states, expected.last_hidden_state) <= TOLERANCE
    text, truncated = model.encode_text(PROMPTS)
    assert relative_error(text.text_embedding, expected.text_embeds) <= TOLERANCE
    assert truncated == [False, False, False, True]


@pytest.mark.parametrize("legacy_eos, hidden_act", [(True, "gelu"), (False, "quick_gelu")])
def test_pooling_and_activation_follow_the_config(tmp_path, reference_text, legacy_eos, hidden_act):
    """eos_token_id 2 (legacy configs) pools at the highest id, any other id at its first occurrence:
    here a word's id, so that the two rules pool at different tokens."""
    ids = _reference_tokens(reference_text[1], PROMPTS[:2]).input_ids
    ids[ids == 0] = 49407  # padded with end-of-text, as OpenAI's tokenizer does
    eos_token_id = 2 if legacy_eos else int(ids[0, 2])
    config = CLIPTextConfig(
        **{**reference_text[0].config.to_dict(), "eos_token_id": eos_token_id, "hidden_act": hidden_act}
    )
    ids[1, 3] = eos_token_id  # every row holds it
    torch.manual_seed(3)
    CLIPTextModelWithProjection(config).eval().save_pretrained(tmp_path)
    reference = CLIPTextModelWithProjection.from_pretrained(tmp_path).eval()
    text = load_text(tmp_path, torch.device("cpu"), torch.float32)
    backend = TransformersClipBackend(text, reference_text[1])
    with torch.inference_mode():
        expected = reference(ids)
        embedding, states = backend.encode_tokens(ids)
    assert relative_error(embedding, expected.text_embeds) <= TOLERANCE
    assert relative_error(states, expected.last_hidden_state) <= TOLERANCE


def test_image_embedding_matches_the_feature_extractor_and_image_encoder(tiny_karlo, karlo_models):
    processor = CLIPImageProcessor.from_pretrained(tiny_karlo.root / "feature_extractor")
    encoder = CLIPVisionModelWithProjection.from_pretrained(tiny_karlo.root / "image_encoder").eval()
    images = torch.randint(0, 256, (2, 45, 70, 3), dtype=torch.uint8)  # odd crop margins: origin rounds down
    pixels = processor(images=[Image.fromarray(image) for image in images.numpy()], return_tensors="pt")
    with torch.inference_mode():
        expected = encoder(pixels.pixel_values).image_embeds
    ours = karlo_models.text_encoder.encode_image(images)
    assert relative_error(ours, expected) <= TOLERANCE


def test_a_checkpoint_without_image_encoder_refuses_images(tiny_karlo, tmp_path):
    folder = shutil.copytree(
        tiny_karlo.root,
        tmp_path / "karlo",
        ignore=shutil.ignore_patterns("image_encoder", "feature_extractor"),
    )
    model = TextEncoderModel.load(open_bundle(folder))
    with pytest.raises(FailedPrecondition, match=r"^images: .*image_encoder/"):
        model.encode_image(torch.from_numpy(np.zeros((1, 8, 8, 3), dtype=np.uint8)))


@pytest.mark.parametrize(
    "config",
    [
        {"resample": 2},  # bilinear, not bicubic
        {"size": {"shortest_edge": 40}, "crop_size": {"height": 32, "width": 32}},
        {"image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]},
    ],
)
def test_images_follow_the_checkpoints_processor_config(tiny_karlo, karlo_models, tmp_path, config):
    """Whatever the feature_extractor/ config says applies, on non-square images too."""
    reference = CLIPImageProcessor(
        **{"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, **config}
    )
    reference.save_pretrained(tmp_path)
    served = karlo_models.text_encoder.backend
    backend = TransformersClipBackend(
        served.text, served.tokenizer, served.visual, load_image_processor(tmp_path)
    )
    images = torch.randint(0, 256, (2, 50, 83, 3), dtype=torch.uint8)
    expected = reference(
        images=[Image.fromarray(image) for image in images.numpy()], return_tensors="pt"
    ).pixel_values
    ours = backend.preprocess(images.permute(0, 3, 1, 2))
    assert torch.equal(ours, expected)
    default = served.preprocess(images.permute(0, 3, 1, 2))
    assert not torch.equal(ours, default)  # the config made a difference
