"""TextEncoderModel: shapes, masks, truncation, the cached unconditional encoding, images."""

from __future__ import annotations

import torch
import torchvision.transforms.v2.functional as TF


def test_encode_text_shapes_and_mask(stage_models):
    model = stage_models.text_encoder
    text, truncated = model.encode_text(["a red cube", ""])
    assert text.text_embedding.shape == (2, 32) and text.text_embedding.dtype == torch.float32
    assert text.token_states.shape == (2, model.context_length, 32)
    assert text.attention_mask.dtype == torch.bool
    assert text.attention_mask.sum(dim=1).tolist() == [5, 2]  # start, 3 words, end / start, end
    assert truncated == [False, False]


def test_pooled_embedding_is_open_clips_encode_text(stage_models):
    backend = stage_models.text_encoder.backend
    ids = backend.tokenize(["an astronaut riding a horse"]).ids
    with torch.inference_mode():
        pooled, _ = backend.encode_tokens(ids)
        torch.testing.assert_close(pooled, backend.model.encode_text(ids))


def test_long_prompt_is_truncated_keeping_end_of_text(stage_models):
    model = stage_models.text_encoder
    ids, _, truncated = model.backend.tokenize(["word " * 100, "short"])
    assert truncated == [True, False]
    assert ids[0, -1] == model.backend.tokenizer.eot_token_id
    text, flags = model.encode_text(["word " * 100])
    assert flags == [True] and bool(text.attention_mask.all())


def test_unconditional_is_the_empty_prompt_computed_once(stage_models):
    model = stage_models.text_encoder
    uncond = model.unconditional()
    assert model.unconditional() is uncond and len(uncond) == 1
    torch.testing.assert_close(uncond.text_embedding, model.encode_text([""])[0].text_embedding)


def test_encode_image_crops_the_centre_square_resizes_and_normalises(stage_models):
    """An open_clip folder has no image processor config: the centre square, then the resize."""
    model = stage_models.text_encoder
    images = torch.randint(0, 256, (2, 40, 65, 3), dtype=torch.uint8)
    embedding = model.encode_image(images)
    assert embedding.shape == (2, 32) and embedding.dtype == torch.float32
    square = images.permute(0, 3, 1, 2)[..., 12:52]  # left = (65 - 40) // 2
    pixels = TF.resize(square, [32, 32], antialias=True, interpolation=TF.InterpolationMode.BICUBIC)
    pixels = TF.normalize(pixels.float() / 255, model.backend.mean, model.backend.std)
    with torch.inference_mode():
        torch.testing.assert_close(embedding, model.backend.model.encode_image(pixels))
