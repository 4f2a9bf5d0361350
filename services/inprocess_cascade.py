"""The cascade's stage models called in one process, with the mesh's noise hand-off.

This is the baseline the mesh is measured against (benchmarks/) and a convenient way to run a bundle
without servers (evaluation, notebooks). Same models, same noise order, same defaults as the mesh:
for the same request and seed it returns the mesh's images.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from services.bundle.loader import Bundle, open_bundle
from services.cascade import hop_dtype, through_wire
from services.decoder.model import DecoderJob, DecoderModel
from services.diffusion.compute_dtype import compute_dtype
from services.prior.model import PriorJob, PriorModel
from services.runtime.image_dtype import cast_images
from services.runtime.settings import check_compute_dtype
from services.stage_registry import stages_for_size, upsamplers
from services.text_encoder.model import TextEncoderModel
from services.upsampler.model import UpsampleJob, UpsamplerModel


@dataclass(frozen=True)
class StageKnobs:
    steps: int | None = None
    guidance_scale: float | None = None
    scheduler: str | None = None


@dataclass
class CascadeResult:
    images: torch.Tensor  # uint8 [B, 3, S, S]
    intermediates: dict[str, torch.Tensor] = field(default_factory=dict)  # stage -> its output
    seconds: dict[str, float] = field(default_factory=dict)  # stage -> wall time


def run_stage(model, job) -> torch.Tensor:
    """One job through one stage model, step by step, as a stage server runs it."""
    trajectory = model.start(job)
    while not trajectory.done:
        model.denoise([trajectory])
    return model.finish(trajectory)


class InProcessCascade:
    """`compute_dtypes`: stage -> compute dtype name (as parse_stage_compute_dtypes gives them),
    float32 for a stage not named, as each stage server's --compute-dtype."""

    def __init__(self, bundle: Bundle, device: str = "cpu", compute_dtypes: Mapping[str, str] | None = None):
        def dtype(stage: str) -> torch.dtype:
            name = (compute_dtypes or {}).get(stage, "float32")
            check_compute_dtype(name, device)
            return compute_dtype(name)

        self.bundle = bundle
        self.text_encoder = TextEncoderModel.load(bundle, device, dtype("text_encoder"))
        self.prior = PriorModel.load(bundle, device, dtype("prior"))
        self.decoder = DecoderModel.load(bundle, device, dtype("decoder"))
        upsampling = [
            UpsamplerModel.load(bundle, stage, device, dtype(stage))
            for stage in upsamplers()
            if bundle.has_stage(stage)
        ]
        self.models = {model.stage: model for model in (self.prior, self.decoder, *upsampling)}

    @classmethod
    def open(
        cls, path, device: str = "cpu", compute_dtypes: Mapping[str, str] | None = None
    ) -> InProcessCascade:
        return cls(open_bundle(path), device, compute_dtypes)

    @staticmethod
    def _knobs(model, knobs: StageKnobs | None) -> tuple[int, float, str]:
        knobs = knobs or StageKnobs()
        defaults = model.defaults
        return (
            knobs.steps or defaults.num_inference_steps,
            defaults.guidance_scale if knobs.guidance_scale is None else knobs.guidance_scale,
            knobs.scheduler or defaults.scheduler,
        )

    @torch.inference_mode()
    def generate(
        self,
        prompts: str | list[str],
        *,
        num_images: int = 1,
        size: int = 1024,
        seed: int = 0,
        stages: dict[str, StageKnobs] | None = None,
    ) -> CascadeResult:
        """`num_images` per prompt; one generator seeded with `seed` runs through every stage, as in the
        mesh. `stages` maps a stage to its knobs (the bundle's defaults otherwise)."""
        stages = stages or {}
        seconds: dict[str, float] = {}
        started = time.perf_counter()
        text, _ = self.text_encoder.encode_text([prompts] if isinstance(prompts, str) else list(prompts))
        text = type(text)(
            *(
                t.repeat_interleave(num_images, 0)
                for t in (text.text_embedding, text.token_states, text.attention_mask)
            )
        )
        unconditional = self.text_encoder.unconditional()
        seconds["text_encoder"] = time.perf_counter() - started
        generator = torch.Generator().manual_seed(seed)
        steps, guidance, scheduler = self._knobs(self.prior, stages.get("prior"))
        embedding = self._timed(
            seconds, "prior", PriorJob(text, unconditional, steps, guidance, scheduler, generator)
        )
        steps, guidance, scheduler = self._knobs(self.decoder, stages.get("decoder"))
        images = self._timed(
            seconds,
            "decoder",
            DecoderJob(embedding, text, unconditional, steps, guidance, scheduler, generator),
        )
        result = CascadeResult(images, {"prior": embedding, "decoder": images}, seconds)
        chain = stages_for_size(size)
        for previous, stage in itertools.pairwise(chain):
            model = self.models[stage]
            steps, _, scheduler = self._knobs(model, stages.get(stage))
            low = through_wire(images, hop_dtype(previous, chain))
            images = self._timed(
                seconds,
                stage,
                UpsampleJob(low, steps, scheduler, generator, noise_level=model.defaults.noise_level),
            )
            result.intermediates[stage] = images
        result.images = cast_images(images, hop_dtype(chain[-1], chain))
        return result

    def _timed(self, seconds: dict[str, float], stage: str, job) -> torch.Tensor:
        started = time.perf_counter()
        output = run_stage(self.models[stage], job)
        seconds[stage] = time.perf_counter() - started
        return output
