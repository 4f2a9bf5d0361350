"""PriorModel: guidance rows, schedulers, seeding, post-processing."""

from __future__ import annotations

import pytest
import torch

from services.prior.model import PriorJob
from services.scheduler_registry import NAMES as SCHEDULER_NAMES


def _job(models, *, guidance=4.0, scheduler="unclip", seed=0, steps=3, **kwargs) -> PriorJob:
    text, _ = models.text_encoder.encode_text(["a red cube", "a blue sphere"])
    return PriorJob(
        text,
        models.text_encoder.unconditional(),
        steps,
        guidance,
        scheduler,
        torch.Generator().manual_seed(seed),
        **kwargs,
    )


def _run(model, job) -> torch.Tensor:
    trajectory = model.start(job)
    while not trajectory.done:
        model.denoise([trajectory])
    return model.finish(trajectory)


def test_guided_start_stacks_unconditional_then_text(stage_models):
    model = stage_models.prior
    job = _job(stage_models)
    trajectory = model.start(job)
    assert trajectory.latents.shape == (2, model.embedding_dim) and trajectory.rows == 4
    states = trajectory.conditioning["encoder_hidden_states"]
    torch.testing.assert_close(states[:2], job.unconditional.token_states.expand(2, -1, -1))
    torch.testing.assert_close(states[2:], job.text.token_states)
    assert model.start(_job(stage_models, guidance=1.0)).rows == 2


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_every_scheduler_runs_to_a_finite_embedding(stage_models, scheduler):
    embedding = _run(stage_models.prior, _job(stage_models, scheduler=scheduler))
    assert embedding.shape == (2, 32) and embedding.dtype == torch.float32
    assert torch.isfinite(embedding).all()


def test_same_seed_same_embedding_other_seed_other_embedding(stage_models):
    model = stage_models.prior
    first = _run(model, _job(stage_models, seed=3))
    assert torch.equal(first, _run(model, _job(stage_models, seed=3)))
    assert not torch.allclose(first, _run(model, _job(stage_models, seed=4)))


def test_finish_applies_the_clip_statistics(stage_models):
    model = stage_models.prior
    trajectory = model.start(_job(stage_models, latents=torch.zeros(2, 32), steps=2))
    trajectory.step = trajectory.total_steps
    torch.testing.assert_close(model.finish(trajectory), model.prior.clip_mean.detach().expand(2, -1))


def test_defaults_and_limits_come_from_the_bundle(stage_models, tiny_bundle):
    assert stage_models.prior.defaults == tiny_bundle.defaults("prior")
    assert stage_models.prior.max_steps == 1000
