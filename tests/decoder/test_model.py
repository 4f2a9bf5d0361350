"""DecoderModel: text_proj conditioning, guidance rows, schedulers, clamped 64 px output."""

from __future__ import annotations

import pytest
import torch

from services.decoder.model import DecoderJob
from services.scheduler_registry import NAMES as SCHEDULER_NAMES


def _job(models, *, guidance=8.0, scheduler="unclip", seed=0, **kwargs) -> DecoderJob:
    text, _ = models.text_encoder.encode_text(["a red cube", "a blue sphere"])
    embedding = torch.randn(2, 32, generator=torch.Generator().manual_seed(100 + seed))
    return DecoderJob(
        embedding,
        text,
        models.text_encoder.unconditional(),
        3,
        guidance,
        scheduler,
        torch.Generator().manual_seed(seed),
        **kwargs,
    )


def test_start_projects_conditioning_like_the_pipeline(stage_models):
    model = stage_models.decoder
    job = _job(stage_models)
    trajectory = model.start(job)
    extra = model.text_proj.clip_extra_context_tokens
    assert trajectory.latents.shape == (2, 3, 64, 64) and trajectory.rows == 4
    cond = trajectory.conditioning
    assert cond["encoder_hidden_states"].shape == (4, extra + 32, 32)
    assert cond["class_labels"].shape == (4, 64)
    assert cond["attention_mask"][:, :extra].all()
    assert torch.equal(cond["attention_mask"][2:, extra:], job.text.attention_mask)
    with torch.inference_mode():  # the unguided half carries the learned null image embedding
        expected, _ = model.text_proj(
            image_embeddings=model.text_proj.learned_classifier_free_guidance_embeddings[None].expand(2, -1),
            prompt_embeds=job.unconditional.text_embedding.expand(2, -1),
            text_encoder_hidden_states=job.unconditional.token_states.expand(2, -1, -1),
            do_classifier_free_guidance=False,
        )
    torch.testing.assert_close(cond["encoder_hidden_states"][:2], expected)


@pytest.mark.parametrize("scheduler", SCHEDULER_NAMES)
def test_every_scheduler_gives_a_clamped_image(stage_models, scheduler):
    model = stage_models.decoder
    trajectory = model.start(_job(stage_models, scheduler=scheduler))
    while not trajectory.done:
        model.denoise([trajectory])
    image = model.finish(trajectory)
    assert image.shape == (2, 3, 64, 64) and image.dtype == torch.float32
    assert image.min() >= -1 and image.max() <= 1


def test_given_latents_replace_the_initial_noise(stage_models):
    latents = torch.zeros(2, 3, 64, 64)
    trajectory = stage_models.decoder.start(_job(stage_models, guidance=1.0, latents=latents))
    assert torch.equal(trajectory.latents, latents) and trajectory.rows == 2
