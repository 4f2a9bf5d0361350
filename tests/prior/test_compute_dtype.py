"""The prior with --compute-dtype bfloat16: the network runs in bfloat16, the sampling in float32."""

from __future__ import annotations

import torch

from tests.prior.test_model import _job


def test_bfloat16_network_float32_sampling(stage_models, bfloat16_stage_models):
    model = bfloat16_stage_models.prior
    assert model.dtype == torch.bfloat16
    reference = stage_models.prior.start(_job(stage_models, seed=3))
    trajectory = model.start(_job(stage_models, seed=3))
    assert torch.equal(trajectory.latents, reference.latents)  # noise drawn in float32 whatever the dtype
    assert trajectory.conditioning["encoder_hidden_states"].dtype == torch.bfloat16
    [expected], [output] = stage_models.prior.predict([reference]), model.predict([trajectory])
    assert output.dtype == torch.float32
    assert 0 < (output - expected).norm() / expected.norm() < 0.05
    while not trajectory.done:
        model.denoise([trajectory])
        assert trajectory.latents.dtype == torch.float32
    embedding = model.finish(trajectory)
    assert embedding.dtype == torch.float32 and torch.isfinite(embedding).all()
