"""The bundle's five stage models run in process, chained as the orchestrator chains the services."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from services.bundle.loader import open_bundle
from services.decoder.model import DecoderJob, DecoderModel
from services.prior.model import PriorJob, PriorModel
from services.text_encoder.model import TextEncoderModel
from services.upsampler.model import UpsampleJob, UpsamplerModel


def run_stage(model, job) -> torch.Tensor:
    """One job through one stage model, step by step, as a stage server runs it."""
    trajectory = model.start(job)
    while not trajectory.done:
        model.denoise([trajectory])
    return model.finish(trajectory)


@dataclass
class Stages:
    text_encoder: TextEncoderModel
    prior: PriorModel
    decoder: DecoderModel
    upsampler_256: UpsamplerModel
    upsampler_1024: UpsamplerModel

    @classmethod
    def load(cls, bundle_path: str | Path) -> Stages:
        bundle = open_bundle(bundle_path)
        return cls(TextEncoderModel.load(bundle), PriorModel.load(bundle), DecoderModel.load(bundle),
                   UpsamplerModel.load(bundle, "upsampler_256"), UpsamplerModel.load(bundle, "upsampler_1024"))

    def generate(self, prompts: list[str], seed: int, size: int = 64,
                 decoder_guidance: float | None = None) -> dict[int, torch.Tensor]:
        """Images [B, 3, S, S] in [-1, 1] at the decoder's size (64) and, up to `size`, 256 and 1024 px; one generator
        seeded with `seed` runs through all stages. Every stage uses the bundle's default sampling,
        except the decoder's guidance when given."""
        generator = torch.Generator().manual_seed(seed)
        text, _ = self.text_encoder.encode_text(prompts)
        empty = self.text_encoder.unconditional()
        p = self.prior.defaults
        embedding = run_stage(self.prior, PriorJob(text, empty, p.num_inference_steps, p.guidance_scale,
                                              p.scheduler, generator))
        d = self.decoder.defaults
        guidance = d.guidance_scale if decoder_guidance is None else decoder_guidance
        images = {self.decoder.image_size: run_stage(self.decoder, DecoderJob(embedding, text, empty, d.num_inference_steps, guidance,
                                                    d.scheduler, generator))}
        for upsampler in (self.upsampler_256, self.upsampler_1024):
            if upsampler.output_size > size:
                break
            u = upsampler.defaults
            source = images[max(images)]
            images[upsampler.output_size] = run_stage(upsampler, UpsampleJob(
                source, u.num_inference_steps, u.scheduler, generator, u.noise_level))
        return images
