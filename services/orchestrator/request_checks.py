"""Checks of a GenerateImagesRequest that need no model: done before any stage is called."""

from dataclasses import dataclass

from services.runtime.errors import FailedPrecondition, InvalidArgument
from services.runtime.validation import check_sampling
from services.stage_registry import sampled_stages, sizes, stages_for_size
from unclip.v1 import generation_pb2


@dataclass(frozen=True)
class RequestLimits:
    """Per-request limits the orchestrator enforces (documented in docs/API.md)."""

    max_prompt_chars: int = 4000
    max_images: int = 8
    max_steps: int = 1000


def image_stages(request, inputs: tuple[str, ...], served: set[str]) -> tuple[str, ...]:
    """The decoder and the upsamplers that draw the request's size: the asked one, or the largest this
    mesh serves. `inputs` are the stages the request's flow calls before the decoder (variations need
    no prior); a mesh without one of them, or without a decoder, cannot serve the request at all."""
    rpc = type(request).__name__.removesuffix("Request")
    missing = [stage for stage in (*inputs, "decoder") if stage not in served]
    if missing:
        raise FailedPrecondition(f"{rpc} needs the {missing[0]} stage, which this mesh does not run")
    if request.size == generation_pb2.IMAGE_SIZE_UNSPECIFIED:
        return max(
            (stages_for_size(size) for size in sizes() if set(stages_for_size(size)) <= served), key=len
        )
    size = request.size  # ImageSize's values are the sides in px
    if size not in sizes():
        raise InvalidArgument("size", f"must be one of {', '.join(f'IMAGE_SIZE_{s}' for s in sizes())}")
    missing = [stage for stage in stages_for_size(size) if stage not in served]
    if missing:
        raise InvalidArgument(
            "size", f"{request.size} px needs the {missing[0]} stage, which this mesh does not run"
        )
    return stages_for_size(size)


def check_generate(request: generation_pb2.GenerateImagesRequest, limits: RequestLimits) -> None:
    check_prompt(request.prompt, "prompt", limits)
    check_count(request.num_images, "num_images", 1, limits.max_images)
    check_stage_knobs(request, sampled_stages(), limits)


def check_count(value: int, field: str, low: int, high: int) -> int:
    """A count field where 0 means `low`."""
    count = value or low
    if not low <= count <= high:
        raise InvalidArgument(field, f"must be between {low} and {high}")
    return count


def check_stage_knobs(request, fields: tuple[str, ...], limits: RequestLimits) -> None:
    for field in fields:
        check_sampling(getattr(request, field), field, limits.max_steps)


def check_prompt(prompt: str, field: str, limits: RequestLimits, *, required: bool = True) -> None:
    if required and not prompt.strip():
        raise InvalidArgument(field, "must not be empty")
    if len(prompt) > limits.max_prompt_chars:
        raise InvalidArgument(field, f"must be at most {limits.max_prompt_chars} characters")
