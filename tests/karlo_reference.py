"""diffusers' UnCLIPPipeline / UnCLIPImageVariationPipeline on a Karlo-layout folder, with what they
hand from step to step recorded: the reference the parity tests hold the mesh to.

Pinned to diffusers 0.42: the unCLIP pipelines live in `diffusers.pipelines.deprecated.unclip`, while
Karlo's model_index.json records text_proj under the library name "unclip", which from_pretrained looks
up as `diffusers.pipelines.unclip`; `reference_pipeline` makes that name reachable again.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from pathlib import Path

import diffusers.pipelines
import numpy as np
import torch
from diffusers.pipelines.deprecated import unclip
from diffusers.pipelines.deprecated.unclip import UnCLIPImageVariationPipeline, UnCLIPPipeline

SCHEDULERS = {"prior": "prior_scheduler", "decoder": "decoder_scheduler", "super_res": "super_res_scheduler"}


@dataclass
class Step:
    sample: torch.Tensor  # the step's input latents
    generator_state: torch.Tensor  # the generator before the step's noise draw
    prev_sample: torch.Tensor  # the step's output


@dataclass
class Record:
    steps: dict[str, list[Step]] = field(default_factory=lambda: {name: [] for name in SCHEDULERS})
    calls: dict[str, dict[str, torch.Tensor]] = field(default_factory=dict)  # module -> first call's kwargs
    text_outputs: list[tuple[torch.Tensor, torch.Tensor]] = field(default_factory=list)  # (embeds, states)
    images: np.ndarray | None = None  # the pipeline's output, float [B, S, S, 3] in [0, 1]

    def image_64(self) -> np.ndarray:
        """The decoder's image as the pipeline hands it to super-res, in the output's convention."""
        small = self.steps["decoder"][-1].prev_sample.clamp(-1, 1)
        return (small * 0.5 + 0.5).clamp(0, 1).permute(0, 2, 3, 1).numpy()


def _from_folder(pipeline_class, folder: str | Path):
    diffusers.pipelines.unclip = unclip  # the name Karlo's model_index.json gives text_proj's library
    pipe = pipeline_class.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def reference_pipeline(folder: str | Path) -> UnCLIPPipeline:
    """UnCLIPPipeline on a text-to-image (or combined) folder."""
    return _from_folder(UnCLIPPipeline, folder)


def variation_pipeline(folder: str | Path) -> UnCLIPImageVariationPipeline:
    """UnCLIPImageVariationPipeline on an image-variations folder, as Karlo publishes it (no prior)."""
    return _from_folder(UnCLIPImageVariationPipeline, folder)


def record(pipe) -> Record:
    """Hooks on `pipe` that fill the returned Record while the pipeline runs."""
    rec = Record()
    for stage, name in SCHEDULERS.items():
        if hasattr(pipe, name):  # the variation pipeline has no prior
            _record_steps(getattr(pipe, name), rec.steps[stage])
    for name in ("prior", "text_proj"):
        module = getattr(pipe, name, None)
        if module is not None:
            module.register_forward_pre_hook(_first_call(rec.calls, name), with_kwargs=True)
    pipe.text_encoder.register_forward_hook(
        lambda _m, _a, out: rec.text_outputs.append((out.text_embeds.clone(), out.last_hidden_state.clone()))
    )
    return rec


def _first_call(calls: dict, name: str):
    def hook(_module, _args, kwargs) -> None:
        calls.setdefault(name, {k: v.clone() for k, v in kwargs.items() if isinstance(v, torch.Tensor)})

    return hook


def _record_steps(scheduler, steps: list[Step]) -> None:
    original = scheduler.step
    signature = inspect.signature(original)

    def step(*args, **kwargs):
        bound = signature.bind(*args, **kwargs).arguments
        state = bound["generator"].get_state()
        out = original(*args, **kwargs)
        steps.append(Step(bound["sample"].clone(), state, out.prev_sample.clone()))
        return out

    scheduler.step = step


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    """max |ours - reference| / max |reference|."""
    return float((ours.float() - reference.float()).abs().max() / reference.float().abs().max())
