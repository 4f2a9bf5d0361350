"""The text encoder with --compute-dtype bfloat16: CLIP runs in bfloat16, its outputs are float32."""

from __future__ import annotations

import torch

PROMPTS = ["a red cube", "a blue sphere on the left"]


def test_bfloat16_encoding_is_float32_and_close(stage_models, bfloat16_stage_models):
    model = bfloat16_stage_models.text_encoder
    assert next(model.backend.model.parameters()).dtype == torch.bfloat16
    expected, _ = stage_models.text_encoder.encode_text(PROMPTS)
    text, _ = model.encode_text(PROMPTS)
    assert torch.equal(text.attention_mask, expected.attention_mask)
    for name in ("text_embedding", "token_states"):
        value, reference = getattr(text, name), getattr(expected, name)
        assert value.dtype == torch.float32
        assert 0 < (value - reference).norm() / reference.norm() < 0.05


def test_bfloat16_image_embedding_is_float32_and_close(stage_models, bfloat16_stage_models):
    images = torch.randint(
        0, 256, (2, 40, 65, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0)
    )
    expected = stage_models.text_encoder.encode_image(images)
    embedding = bfloat16_stage_models.text_encoder.encode_image(images)
    assert embedding.dtype == torch.float32
    assert 0 < (embedding - expected).norm() / expected.norm() < 0.05
