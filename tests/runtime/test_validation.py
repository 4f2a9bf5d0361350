import math

import pytest
import torch

from services import scheduler_registry
from services.runtime import validation
from services.runtime.errors import InvalidArgument
from unclip.v1 import sampling_pb2

Params = sampling_pb2.SamplingParams


def invalid(call, *args, **kwargs) -> InvalidArgument:
    with pytest.raises(InvalidArgument) as caught:
        call(*args, **kwargs)
    return caught.value


def test_num_inference_steps():
    steps = validation.num_inference_steps
    assert steps(Params(), "sampling.num_inference_steps", default=25, maximum=1000) == 25
    assert steps(Params(num_inference_steps=1), "sampling.num_inference_steps", default=25, maximum=1000) == 1
    assert (
        steps(Params(num_inference_steps=1000), "sampling.num_inference_steps", default=25, maximum=1000)
        == 1000
    )
    for bad in (0, -3, 1001):
        error = invalid(
            steps, Params(num_inference_steps=bad), "sampling.num_inference_steps", default=25, maximum=1000
        )
        assert error.field == "sampling.num_inference_steps"
        assert error.message == f"sampling.num_inference_steps: must be from 1 to 1000, got {bad}"


def test_guidance_scale():
    scale = validation.guidance_scale
    assert scale(Params(), "sampling.guidance_scale", default=4.0) == 4.0
    assert scale(Params(guidance_scale=0.0), "sampling.guidance_scale", default=4.0) == 0.0
    assert scale(Params(guidance_scale=8.5), "sampling.guidance_scale", default=4.0) == 8.5
    for bad in (-0.5, math.inf, -math.inf, math.nan):
        error = invalid(scale, Params(guidance_scale=bad), "prior.sampling.guidance_scale", default=4.0)
        assert error.field == "prior.sampling.guidance_scale"
        assert "finite and >= 0" in error.message


@pytest.mark.parametrize(
    "enum, name",
    [
        (sampling_pb2.SCHEDULER_UNSPECIFIED, "ddim"),
        (sampling_pb2.SCHEDULER_UNCLIP, "unclip"),
        (sampling_pb2.SCHEDULER_DDPM, "ddpm"),
        (sampling_pb2.SCHEDULER_DDIM, "ddim"),
        (sampling_pb2.SCHEDULER_DPM_SOLVER_PP, "dpm_solver_pp"),
    ],
)
def test_scheduler_name(enum, name):
    assert validation.scheduler_name(Params(scheduler=enum), "sampling.scheduler", default="ddim") == name


def test_every_scheduler_enum_is_registered():
    named = set(sampling_pb2.Scheduler.values()) - {sampling_pb2.SCHEDULER_UNSPECIFIED}
    assert named == {scheduler.enum for scheduler in scheduler_registry.SCHEDULERS}


def test_unknown_scheduler_number():
    params = Params.FromString(Params(scheduler=42).SerializeToString())
    error = invalid(validation.scheduler_name, params, "sampling.scheduler", default="unclip")
    assert error.message == "sampling.scheduler: unknown scheduler 42"


def test_seed_starts_a_fresh_generator():
    generator = validation.random_state(sampling_pb2.RandomState(seed=7), "random")
    assert torch.equal(
        torch.randn(4, generator=generator), torch.randn(4, generator=torch.Generator().manual_seed(7))
    )
    assert validation.random_state(sampling_pb2.RandomState(seed=2**64 - 1), "random") is not None


def test_generator_state_resumes_the_stream():
    source = torch.Generator().manual_seed(3)
    torch.randn(10, generator=source)
    state = bytes(source.get_state().numpy())
    resumed = validation.random_state(sampling_pb2.RandomState(generator_state=state), "random")
    assert torch.equal(torch.randn(5, generator=resumed), torch.randn(5, generator=source))


def test_generator_state_of_the_wrong_length():
    error = invalid(validation.random_state, sampling_pb2.RandomState(generator_state=b"abc"), "random")
    assert error.field == "random.generator_state"
    assert "got 3" in error.message


def test_garbage_generator_state():
    size = torch.Generator().get_state().numel()
    garbage = bytes(range(256)) * (size // 256) + bytes(size % 256)
    error = invalid(validation.random_state, sampling_pb2.RandomState(generator_state=garbage), "random")
    assert error.field == "random.generator_state"
    assert "not a valid" in error.message


def test_random_state_is_required():
    error = invalid(validation.random_state, sampling_pb2.RandomState(), "decoder.random")
    assert error.message == "decoder.random: seed or generator_state is required"


def test_eta():
    assert validation.eta(Params(), "sampling.eta", "unclip") == 0.0
    assert validation.eta(Params(eta=0.3), "sampling.eta", "ddim") == pytest.approx(0.3)
    assert (
        invalid(validation.eta, Params(eta=0.3), "sampling.eta", "ddpm").message
        == "sampling.eta: only the ddim scheduler takes eta, not ddpm"
    )
    for bad in (-0.1, 1.5, math.nan):
        assert invalid(validation.eta, Params(eta=bad), "sampling.eta", "ddim").field == "sampling.eta"


@pytest.mark.parametrize(
    "params, field, message",
    [
        (Params(num_inference_steps=0), "decoder.num_inference_steps", "must be from 1 to 50, got 0"),
        (Params(guidance_scale=math.nan), "decoder.guidance_scale", "must be finite and >= 0, got nan"),
        (Params(scheduler=42), "decoder.scheduler", "unknown scheduler 42"),
        (Params(eta=1.5), "decoder.eta", "must be from 0 to 1, got 1.5"),
    ],
)
def test_check_sampling_words_each_knob_as_the_stages_do(params, field, message):
    error = invalid(validation.check_sampling, params, "decoder", max_steps=50)
    assert (error.field, error.message) == (field, f"{field}: {message}")


def test_check_sampling_passes_knobs_in_range_and_leaves_eta_to_the_stages_scheduler():
    validation.check_sampling(Params(), "prior", max_steps=50)
    validation.check_sampling(
        Params(num_inference_steps=50, guidance_scale=0.0, eta=0.5, scheduler=sampling_pb2.SCHEDULER_DDPM),
        "prior",
        max_steps=50,
    )
