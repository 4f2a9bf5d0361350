"""Checks of the sampling fields: the one validator of the diffusion stages and the orchestrator.

`field` is the request path of the field checked, used as is in the error
("sampling.num_inference_steps: must be from 1 to 1000, got 0"); random_state's `field` is the
RandomState message's path ("random"), and a bad state is reported as FIELD.generator_state.
"""

import math

import torch

from services import scheduler_registry
from services.runtime.errors import InvalidArgument
from unclip.v1 import sampling_pb2


def num_inference_steps(params: sampling_pb2.SamplingParams, field: str, default: int, maximum: int) -> int:
    if not params.HasField("num_inference_steps"):
        return default
    steps = params.num_inference_steps
    if not 1 <= steps <= maximum:
        raise InvalidArgument(field, f"must be from 1 to {maximum}, got {steps}")
    return steps


def guidance_scale(params: sampling_pb2.SamplingParams, field: str, default: float) -> float:
    if not params.HasField("guidance_scale"):
        return default
    scale = params.guidance_scale
    if not math.isfinite(scale) or scale < 0:
        raise InvalidArgument(field, f"must be finite and >= 0, got {scale}")
    return scale


def eta_value(value: float, field: str) -> float:
    """A DDIM eta: finite, from 0 to 1."""
    if not (math.isfinite(value) and 0 <= value <= 1):
        raise InvalidArgument(field, f"must be from 0 to 1, got {value}")
    return value


def eta(params: sampling_pb2.SamplingParams, field: str, scheduler: str) -> float:
    """DDIM's eta: 0 unless set; only the ddim scheduler takes one."""
    if not params.HasField("eta"):
        return 0.0
    if scheduler != "ddim":
        raise InvalidArgument(field, f"only the ddim scheduler takes eta, not {scheduler}")
    return eta_value(params.eta, field)


def scheduler_name(params: sampling_pb2.SamplingParams, field: str, default: str) -> str:
    """The scheduler's registered name, `default` when unspecified."""
    if params.scheduler == sampling_pb2.SCHEDULER_UNSPECIFIED:
        return default
    try:
        return scheduler_registry.by_enum(params.scheduler).name
    except ValueError:
        raise InvalidArgument(field, f"unknown scheduler {params.scheduler}") from None


def check_sampling(params: sampling_pb2.SamplingParams, field: str, max_steps: int) -> None:
    """What can be checked without a bundle's defaults (the orchestrator, before any stage): each
    knob set is in range. Whether eta suits the scheduler is left to the stage, which knows the
    default scheduler."""
    num_inference_steps(params, f"{field}.num_inference_steps", 0, max_steps)
    guidance_scale(params, f"{field}.guidance_scale", 0.0)
    scheduler_name(params, f"{field}.scheduler", "")
    if params.HasField("eta"):
        eta_value(params.eta, f"{field}.eta")


def random_state(msg: sampling_pb2.RandomState, field: str) -> torch.Generator:
    """A CPU generator: freshly seeded, or resumed from the state an earlier stage handed on."""
    source = msg.WhichOneof("source")
    if source == "seed":
        return torch.Generator().manual_seed(msg.seed)
    if source != "generator_state":
        raise InvalidArgument(field, "seed or generator_state is required")
    generator = torch.Generator()
    expected = generator.get_state().numel()
    state = msg.generator_state
    if len(state) != expected:
        raise InvalidArgument(
            f"{field}.generator_state",
            f"must be a torch CPU generator state of {expected} bytes, got {len(state)}",
        )
    try:
        generator.set_state(torch.frombuffer(bytearray(state), dtype=torch.uint8))
    except RuntimeError as error:
        reason = str(error).splitlines()[0]
        raise InvalidArgument(
            f"{field}.generator_state", f"is not a valid torch CPU generator state ({reason})"
        ) from None
    return generator
