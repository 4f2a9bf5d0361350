"""A trajectory's per-step network output does not depend on what it is batched with."""

from __future__ import annotations

import pytest
import torch

from services.decoder.model import DecoderJob
from services.prior.model import PriorJob
from services.upsampler.model import UpsampleJob


def _jobs(stage: str, models, seed: int, guidance: float, rows: int):
    generator = torch.Generator().manual_seed(seed)
    prompts = ["a red cube", "a blue sphere", "a green cone"][:rows]
    if stage in ("prior", "decoder"):
        text, _ = models.text_encoder.encode_text(prompts)
        uncond = models.text_encoder.unconditional()
        if stage == "prior":
            return PriorJob(text, uncond, 4, guidance, "unclip", generator)
        embedding = torch.randn(rows, models.prior.embedding_dim, generator=generator)
        return DecoderJob(embedding, text, uncond, 4, guidance, "unclip", generator)
    size = 64 if stage == "upsampler_256" else 256
    image = torch.rand(rows, 3, size, size, generator=generator) * 2 - 1
    return UpsampleJob(image, 3, "unclip", generator, noise_level=100 if stage == "upsampler_1024" else 0)


@pytest.mark.parametrize("stage", ["prior", "decoder", "upsampler_256", "upsampler_1024"])
def test_output_alone_equals_output_in_a_batch(stage, stage_models):
    model = getattr(stage_models, stage)
    target = model.start(_jobs(stage, stage_models, seed=0, guidance=4.0, rows=1))
    others = [
        model.start(_jobs(stage, stage_models, seed=1, guidance=1.0, rows=2)),
        model.start(_jobs(stage, stage_models, seed=2, guidance=2.5, rows=1)),
    ]
    model.denoise(others)  # the others are one step ahead...
    model.denoise(others[1:])  # ...and two steps ahead (the upsamplers' last step: `last` net)

    alone = model.predict([target])[0]
    batched = model.predict([others[0], target, others[1]])[1]
    torch.testing.assert_close(batched, alone, rtol=1e-5, atol=1e-5)
    assert alone.shape[0] == target.rows


def test_denoise_advances_each_trajectory_once(stage_models):
    model = stage_models.prior
    batch = [
        model.start(_jobs("prior", stage_models, seed=s, guidance=g, rows=1)) for s, g in ((0, 4.0), (1, 1.0))
    ]
    model.denoise(batch)
    assert [t.step for t in batch] == [1, 1]
    assert [t.rows for t in batch] == [2, 1]
