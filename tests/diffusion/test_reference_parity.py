"""Our three stage models chained in process reproduce diffusers' UnCLIPPipeline output for output."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import torch
from diffusers import PriorTransformer, UnCLIPPipeline, UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
from transformers.models.clip.modeling_clip import CLIPTextModelOutput

from services.decoder.model import DecoderJob
from services.prior.model import PriorJob
from services.upsampler.model import UpsampleJob

PROMPTS = ["a red cube on a table", "an astronaut riding a horse"]
STEPS = {"prior": 3, "decoder": 3, "super_res": 3}
PRIOR_GUIDANCE, DECODER_GUIDANCE = 4.0, 8.0
SEED = 7


class OurTokenizer:
    """The tokenizer interface UnCLIPPipeline uses for its unconditional prompt, backed by our model."""

    def __init__(self, text_encoder) -> None:
        self.text_encoder = text_encoder
        self.model_max_length = text_encoder.context_length

    def __call__(self, prompts, **_):
        tokens = self.text_encoder.backend.tokenize(prompts)
        return SimpleNamespace(input_ids=tokens.ids, attention_mask=tokens.mask.long())


class OurTextEncoder(torch.nn.Module):
    """Stands in for CLIPTextModelWithProjection, so the pipeline's unconditional encoding is ours too
    (a placeholder transformers model would put a foreign text path into the comparison)."""

    def __init__(self, text_encoder) -> None:
        super().__init__()
        self.ours = text_encoder
        self.device = text_encoder.device
        self.dtype = text_encoder.dtype

    def forward(self, ids: torch.Tensor) -> CLIPTextModelOutput:
        embedding, states = self.ours.backend.encode_tokens(ids)
        return CLIPTextModelOutput(text_embeds=embedding, last_hidden_state=states)


def reference_pipeline(bundle, text_encoder) -> UnCLIPPipeline:
    def load(cls, stage, role):
        return cls.from_pretrained(bundle.stage_dir(stage, role))

    pipe = UnCLIPPipeline(
        prior=load(PriorTransformer, "prior", "prior"),
        decoder=load(UNet2DConditionModel, "decoder", "decoder"),
        text_proj=load(UnCLIPTextProjModel, "decoder", "text_proj"),
        super_res_first=load(UNet2DModel, "upsampler_256", "first"),
        super_res_last=load(UNet2DModel, "upsampler_256", "last"),
        prior_scheduler=load(UnCLIPScheduler, "prior", "scheduler"),
        decoder_scheduler=load(UnCLIPScheduler, "decoder", "scheduler"),
        super_res_scheduler=load(UnCLIPScheduler, "upsampler_256", "scheduler"),
        text_encoder=OurTextEncoder(text_encoder),
        tokenizer=OurTokenizer(text_encoder),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run_reference(pipe: UnCLIPPipeline, text) -> dict[str, torch.Tensor | np.ndarray]:
    """The pipeline's final images plus what it hands from stage to stage (captured with hooks)."""
    seen: dict = {}

    def record(key: str, argument: str):
        def hook(_module, _args, kwargs) -> None:
            seen.setdefault(key, kwargs[argument].clone())

        return hook

    pipe.text_proj.register_forward_pre_hook(record("image_embedding", "image_embeddings"), with_kwargs=True)
    pipe.super_res_first.register_forward_pre_hook(record("super_res_input", "sample"), with_kwargs=True)
    images = pipe(
        text_model_output=(text.text_embedding, text.token_states),
        text_attention_mask=text.attention_mask,
        generator=torch.Generator().manual_seed(SEED),
        prior_num_inference_steps=STEPS["prior"],
        decoder_num_inference_steps=STEPS["decoder"],
        super_res_num_inference_steps=STEPS["super_res"],
        prior_guidance_scale=PRIOR_GUIDANCE,
        decoder_guidance_scale=DECODER_GUIDANCE,
        output_type="np",
    ).images
    return {**seen, "images": images}


def run_ours(models, text) -> dict[str, torch.Tensor]:
    """prior -> decoder -> upsampler_256, the generator state handed on from stage to stage."""

    def resume(generator: torch.Generator) -> torch.Generator:
        return torch.Generator().set_state(generator.get_state())

    def loop(model, job):
        trajectory = model.start(job)
        while not trajectory.done:
            model.denoise([trajectory])
        return trajectory

    uncond = models.text_encoder.unconditional()
    prior = loop(
        models.prior,
        PriorJob(text, uncond, STEPS["prior"], PRIOR_GUIDANCE, "unclip", torch.Generator().manual_seed(SEED)),
    )
    embedding = models.prior.finish(prior)
    decoder = loop(
        models.decoder,
        DecoderJob(
            embedding, text, uncond, STEPS["decoder"], DECODER_GUIDANCE, "unclip", resume(prior.generator)
        ),
    )
    small = models.decoder.finish(decoder)
    upsampler = models.upsampler_256.start(
        UpsampleJob(small, STEPS["super_res"], "unclip", resume(decoder.generator))
    )
    super_res_input = torch.cat([upsampler.latents, upsampler.conditioning["image"]], dim=1)
    while not upsampler.done:
        models.upsampler_256.denoise([upsampler])
    images = (models.upsampler_256.finish(upsampler) * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 3, 1)
    return {"image_embedding": embedding, "super_res_input": super_res_input, "images": images.numpy()}


def test_stage_chain_matches_unclip_pipeline(tiny_bundle, stage_models):
    text, _ = stage_models.text_encoder.encode_text(PROMPTS)
    reference = run_reference(reference_pipeline(tiny_bundle, stage_models.text_encoder), text)
    ours = run_ours(stage_models, text)

    torch.testing.assert_close(ours["image_embedding"], reference["image_embedding"], rtol=1e-5, atol=1e-6)
    # the decoder's 64 px output, upscaled, and the upsampler's initial noise, as super_res_first sees them;
    # the decoder's steps amplify float rounding (same ops, kernels picked per CPU): up to 1.3e-5 was seen
    torch.testing.assert_close(ours["super_res_input"], reference["super_res_input"], rtol=1e-5, atol=5e-5)
    assert ours["images"].shape == reference["images"].shape == (len(PROMPTS), 256, 256, 3)
    # the same image up to rounding: on one CPU here 5 of 393,216 values were off by more than 1/255
    # (the largest by 0.03) and the mean difference was 8e-7; elsewhere none was
    difference = np.abs(ours["images"] - reference["images"])
    assert (difference > 1 / 255).mean() <= 1e-4 and difference.mean() <= 1e-5
