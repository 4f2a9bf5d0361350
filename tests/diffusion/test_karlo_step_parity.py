"""Stage by stage, our model code returns UnCLIPPipeline's per-step outputs on a Karlo-layout folder.

Each stage is fed the reference's own inputs (token ids, text encodings, image embeddings, latents,
and the generator state before every step's noise draw) and every step's output is compared:
relative error (max |ours - ref| / max |ref|) at most 1e-5, CPU, batch size 1.
"""

from __future__ import annotations

import pytest
import torch

from services.decoder.model import DecoderJob
from services.diffusion.text import TextTensors
from services.prior.model import PriorJob
from services.upsampler.model import UpsampleJob
from tests.karlo_reference import Record, Step, record, reference_pipeline, relative_error

PROMPT = "a red cube on a table!"
STEPS, PRIOR_GUIDANCE, DECODER_GUIDANCE, SEED = 3, 4.0, 8.0, 11
TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def reference(tiny_karlo) -> Record:
    pipe = reference_pipeline(tiny_karlo.root)
    rec = record(pipe)
    rec.images = pipe(
        PROMPT,
        generator=torch.Generator().manual_seed(SEED),
        prior_num_inference_steps=STEPS,
        decoder_num_inference_steps=STEPS,
        super_res_num_inference_steps=STEPS,
        prior_guidance_scale=PRIOR_GUIDANCE,
        decoder_guidance_scale=DECODER_GUIDANCE,
        output_type="np",
    ).images
    return rec


def _text(reference: Record) -> tuple[TextTensors, TextTensors]:
    """(prompt, unconditional) as the reference's prior received them ([uncond; cond] rows)."""
    call = reference.calls["prior"]
    rows = [call[k].chunk(2) for k in ("proj_embedding", "encoder_hidden_states", "attention_mask")]
    return TextTensors(*(r[1] for r in rows)), TextTensors(*(r[0] for r in rows))


def _replay(model, trajectory, steps: list[Step]) -> float:
    """Each step from the reference's own input latents and generator state; the worst relative error."""
    worst = 0.0
    for index, step in enumerate(steps):
        trajectory.step = index
        trajectory.latents = step.sample.clone()
        trajectory.generator.set_state(step.generator_state)
        model.denoise([trajectory])
        worst = max(worst, relative_error(trajectory.latents, step.prev_sample))
    return worst


def test_text_encoder_matches_the_reference_encodings(karlo_models, reference):
    ours, _ = karlo_models.text_encoder.encode_text([PROMPT])
    prompt, _ = _text(reference)
    (embeds, states), (uncond_embeds, _) = reference.text_outputs
    assert relative_error(ours.text_embedding, embeds) <= TOLERANCE
    assert relative_error(ours.token_states, states) <= TOLERANCE
    assert torch.equal(ours.attention_mask, prompt.attention_mask)
    unconditional = karlo_models.text_encoder.unconditional()
    assert relative_error(unconditional.text_embedding, uncond_embeds) <= TOLERANCE


def test_prior_steps_and_clip_statistics(karlo_models, reference):
    model, steps = karlo_models.prior, reference.steps["prior"]
    text, uncond = _text(reference)
    trajectory = model.start(
        PriorJob(text, uncond, STEPS, PRIOR_GUIDANCE, "unclip", torch.Generator(), latents=steps[0].sample)
    )
    assert _replay(model, trajectory, steps) <= TOLERANCE
    trajectory.latents = steps[-1].prev_sample
    embedding = model.finish(trajectory)  # un-normalised with the checkpoint's clip mean/std
    assert relative_error(embedding, reference.calls["text_proj"]["image_embeddings"]) <= TOLERANCE


def test_decoder_steps(karlo_models, reference):
    model, steps = karlo_models.decoder, reference.steps["decoder"]
    text, uncond = _text(reference)
    embedding = reference.calls["text_proj"]["image_embeddings"]
    trajectory = model.start(
        DecoderJob(
            embedding,
            text,
            uncond,
            STEPS,
            DECODER_GUIDANCE,
            "unclip",
            torch.Generator(),
            latents=steps[0].sample,
        )
    )
    assert _replay(model, trajectory, steps) <= TOLERANCE


def test_upsampler_steps_first_then_last_network(karlo_models, reference):
    model, steps = karlo_models.upsampler_256, reference.steps["super_res"]
    assert model.first is not model.last
    image = reference.steps["decoder"][-1].prev_sample.clamp(-1, 1)
    trajectory = model.start(UpsampleJob(image, STEPS, "unclip", torch.Generator(), latents=steps[0].sample))
    assert _replay(model, trajectory, steps) <= TOLERANCE
    final = (model.finish(trajectory) * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()
    assert abs(final - reference.images).max() <= 1e-5
