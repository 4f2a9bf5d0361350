"""One scheduler step for the rows of many trajectories at once (see trajectory.advance_batch).

diffusers' schedulers step one sample at one timestep, with 0-dim tensors for the schedule's values.
Here the same expressions, in the same order, run once over the concatenated rows of every trajectory
of a group (one scheduler class and config), with per-row timesteps, schedule values and noise: on
float32 each row equals its trajectory's own diffusers step bit for bit (tests/diffusion/
test_batched_step.py). Each trajectory's noise comes from its own generator, drawn only where diffusers
draws it, so its images do not depend on its batch. The schedule values are computed on the CPU, as
diffusers computes them; only the per-sample arithmetic runs on the samples' device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from diffusers import (
    DDIMScheduler,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    SchedulerMixin,
    UnCLIPScheduler,
)
from diffusers.utils.torch_utils import randn_tensor

from services.diffusion.schedulers import LEARNED_VARIANCE


@dataclass(frozen=True)
class RowStep:
    """One trajectory's part of a batched step: its scheduler, rows and place in its schedule."""

    scheduler: SchedulerMixin
    rows: int
    timestep: int
    prev_timestep: int | None  # the next timestep of the trajectory's schedule, None on its last step
    generator: torch.Generator
    eta: float = 0.0


def vectorised(scheduler: SchedulerMixin) -> bool:
    """Whether batched_step reproduces this scheduler's step (the configurations the project builds)."""
    config = scheduler.config
    if getattr(config, "thresholding", False) or config.prediction_type not in ("epsilon", "sample"):
        return False
    if isinstance(scheduler, (UnCLIPScheduler, DDPMScheduler)):
        return config.variance_type in ("fixed_small_log", "learned_range")
    if isinstance(scheduler, DPMSolverMultistepScheduler):
        return (
            (config.algorithm_type, config.solver_type, config.solver_order) == ("dpmsolver++", "midpoint", 2)
            and not config.use_flow_sigmas
            and config.variance_type not in LEARNED_VARIANCE
        )
    return isinstance(scheduler, DDIMScheduler)


def same_step(a: SchedulerMixin, b: SchedulerMixin) -> bool:
    """Whether two schedulers may share one batched step (same class and config)."""
    return type(a) is type(b) and (a.config is b.config or a.config == b.config)


def batched_step(parts: list[RowStep], model_output: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """The next sample of every part's rows; `model_output` and `sample` hold the parts' rows in order.
    The parts' schedulers satisfy `vectorised` and `same_step`."""
    scheduler = parts[0].scheduler
    channels = sample.shape[1]
    if (
        model_output.shape[1] == 2 * channels
        and getattr(scheduler.config, "variance_type", None) not in LEARNED_VARIANCE
    ):
        model_output = model_output[:, :channels]
    if isinstance(scheduler, DDIMScheduler):
        return _ddim(parts, model_output, sample)
    if isinstance(scheduler, DPMSolverMultistepScheduler):
        return _dpm_solver_pp(parts, model_output, sample)
    return _ddpm(parts, model_output, sample, unclip=isinstance(scheduler, UnCLIPScheduler))


def _per_row(parts: list[RowStep], values: list, dtype: torch.dtype = torch.long) -> torch.Tensor:
    return torch.tensor(
        [value for part, value in zip(parts, values, strict=True) for _ in range(part.rows)], dtype=dtype
    )


def _on_rows(sample: torch.Tensor, *values: torch.Tensor) -> list[torch.Tensor]:
    """Per-row schedule values, moved to the samples' device in one copy, shaped to broadcast on them."""
    stacked = torch.stack(values).to(sample.device)
    return list(stacked.view(len(values), -1, *[1] * (sample.dim() - 1)).unbind())


def _divide(tensor: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """tensor / value as diffusers' 0-dim CPU value divides it: on CUDA that division multiplies by the
    value's float32 reciprocal."""
    return tensor * rows.reciprocal() if tensor.is_cuda else tensor / rows


def _noise(parts: list[RowStep], draws: list[bool], sample: torch.Tensor) -> torch.Tensor:
    """Each part's noise from its own generator where it draws (as diffusers' randn_tensor: on the
    generator's device, then moved), else zeros; drawn straight into the batch's rows."""
    device = parts[0].generator.device
    noise = torch.empty(sample.shape, device=device, dtype=sample.dtype)
    for part, draw, rows in zip(parts, draws, noise.split([part.rows for part in parts]), strict=True):
        if not draw:
            rows.zero_()
        elif part.generator.device == device:
            torch.randn(rows.shape, generator=part.generator, dtype=sample.dtype, out=rows)
        else:
            rows.copy_(
                randn_tensor(
                    rows.shape, generator=part.generator, device=part.generator.device, dtype=sample.dtype
                )
            )
    return noise.to(sample.device)


def _predicted_original(config, model_output, sample, sqrt_beta_prod, sqrt_alpha_prod) -> torch.Tensor:
    if config.prediction_type == "epsilon":
        return _divide(sample - sqrt_beta_prod * model_output, sqrt_alpha_prod)
    return model_output


def _clipped(config, original: torch.Tensor) -> torch.Tensor:
    if config.clip_sample:
        return original.clamp(-config.clip_sample_range, config.clip_sample_range)
    return original


def _ddpm(
    parts: list[RowStep], model_output: torch.Tensor, sample: torch.Tensor, unclip: bool
) -> torch.Tensor:
    """UnCLIPScheduler.step and DDPMScheduler.step; they differ only in how beta and the variance are
    computed from the schedule."""
    scheduler = parts[0].scheduler
    config = scheduler.config
    predicted_variance = None
    if model_output.shape[1] == 2 * sample.shape[1]:
        model_output, predicted_variance = model_output.split(sample.shape[1], dim=1)
    t = _per_row(parts, [part.timestep for part in parts])
    # UnCLIPScheduler's previous timestep defaults to t - 1, DDPMScheduler's to -1 after the last one
    prev = _per_row(
        parts,
        [
            (part.timestep - 1 if unclip else -1) if part.prev_timestep is None else part.prev_timestep
            for part in parts
        ],
    )
    alphas_cumprod = scheduler.alphas_cumprod.cpu()
    alpha_prod_t = alphas_cumprod.index_select(0, t)
    alpha_prod_t_prev = torch.where(
        prev >= 0, alphas_cumprod.index_select(0, prev.clamp(min=0)), scheduler.one
    )
    beta_prod_t = 1 - alpha_prod_t
    beta_prod_t_prev = 1 - alpha_prod_t_prev
    if unclip:
        consecutive = prev == t - 1
        beta = torch.where(
            consecutive, scheduler.betas.index_select(0, t), 1 - alpha_prod_t / alpha_prod_t_prev
        )
        alpha = torch.where(consecutive, scheduler.alphas.index_select(0, t), 1 - beta)
        variance = beta_prod_t_prev / beta_prod_t * beta
    else:
        alpha = alpha_prod_t / alpha_prod_t_prev
        beta = 1 - alpha
        variance = torch.clamp((1 - alpha_prod_t_prev) / (1 - alpha_prod_t) * beta, min=1e-20)
    sqrt_beta_prod, sqrt_alpha_prod, original_coeff, current_coeff = _on_rows(
        sample,
        beta_prod_t**0.5,
        alpha_prod_t**0.5,
        (alpha_prod_t_prev**0.5 * beta) / beta_prod_t,
        alpha**0.5 * beta_prod_t_prev / beta_prod_t,
    )

    original = _clipped(
        config, _predicted_original(config, model_output, sample, sqrt_beta_prod, sqrt_alpha_prod)
    )
    prev_sample = original_coeff * original + current_coeff * sample
    draws = [part.timestep > 0 for part in parts]
    if not any(draws):
        return prev_sample
    noise = _noise(parts, draws, model_output)
    if config.variance_type == "fixed_small_log":
        (std,) = _on_rows(sample, torch.exp(0.5 * torch.log(torch.clamp(variance, min=1e-20))))
        return prev_sample + std * noise
    # learned_range; rows at t = 0 add no noise (their noise is 0, their logs may be infinite)
    min_log, max_log = _on_rows(sample, *(torch.where(t > 0, value.log(), 0.0) for value in (variance, beta)))
    assert predicted_variance is not None, "a learned_range schedule takes the variance channels"
    fraction = (predicted_variance + 1) / 2
    log_variance = fraction * max_log + (1 - fraction) * min_log
    return prev_sample + (0.5 * log_variance).exp() * noise


def _ddim(parts: list[RowStep], model_output: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """DDIMScheduler.step (eta per trajectory; no clipped model output)."""
    scheduler = parts[0].scheduler
    config = scheduler.config
    t = _per_row(parts, [part.timestep for part in parts])
    prev = t - _per_row(
        parts, [config.num_train_timesteps // part.scheduler.num_inference_steps for part in parts]
    )
    eta = _per_row(parts, [part.eta for part in parts], torch.float32)
    alphas_cumprod = scheduler.alphas_cumprod.cpu()
    alpha_prod_t = alphas_cumprod.index_select(0, t)
    alpha_prod_t_prev = torch.where(
        prev >= 0, alphas_cumprod.index_select(0, prev.clamp(min=0)), scheduler.final_alpha_cumprod
    )
    beta_prod_t = 1 - alpha_prod_t
    variance = ((1 - alpha_prod_t_prev) / beta_prod_t) * (1 - alpha_prod_t / alpha_prod_t_prev)
    std = eta * variance**0.5
    sqrt_beta_prod, sqrt_alpha_prod, direction_coeff, sqrt_alpha_prod_prev, std = _on_rows(
        sample,
        beta_prod_t**0.5,
        alpha_prod_t**0.5,
        (1 - alpha_prod_t_prev - std**2) ** 0.5,
        alpha_prod_t_prev**0.5,
        std,
    )

    original = _predicted_original(config, model_output, sample, sqrt_beta_prod, sqrt_alpha_prod)
    epsilon = model_output
    if config.prediction_type == "sample":
        epsilon = _divide(sample - sqrt_alpha_prod * original, sqrt_beta_prod)
    original = _clipped(config, original)
    prev_sample = sqrt_alpha_prod_prev * original + direction_coeff * epsilon
    draws = [part.eta > 0 for part in parts]
    if not any(draws):
        return prev_sample
    return prev_sample + std * _noise(parts, draws, model_output)


def _alpha_sigma(sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    alpha = 1 / ((sigma**2 + 1) ** 0.5)
    return alpha, sigma * alpha


def _dpm_solver_pp(parts: list[RowStep], model_output: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
    """DPMSolverMultistepScheduler.step for DPM-Solver++(2M), midpoint: first order on a trajectory's
    first step and on its last, second order between; each scheduler's history and counters advance."""
    config = parts[0].scheduler.config
    first_order = []
    for part in parts:
        scheduler = part.scheduler
        if scheduler.step_index is None:
            scheduler._init_step_index(part.timestep)
        last = scheduler.step_index == len(scheduler.timesteps) - 1 and (
            config.euler_at_final
            or (config.lower_order_final and len(scheduler.timesteps) < 15)
            or config.final_sigmas_type == "zero"
        )
        first_order.append(scheduler.lower_order_nums < 1 or last)

    def sigmas(offset: int) -> torch.Tensor:
        return _per_row(
            parts,
            [float(part.scheduler.sigmas[part.scheduler.step_index + offset]) for part in parts],
            torch.float32,
        )

    (alpha_t, sigma_t), (alpha_s0, sigma_s0), (alpha_s1, sigma_s1) = (
        _alpha_sigma(sigmas(k)) for k in (1, 0, -1)
    )
    lambda_t, lambda_s0, lambda_s1 = (
        torch.log(alpha) - torch.log(sigma)
        for alpha, sigma in ((alpha_t, sigma_t), (alpha_s0, sigma_s0), (alpha_s1, sigma_s1))
    )
    h = lambda_t - lambda_s0
    second = ~_per_row(parts, first_order, torch.bool)
    # first-order rows subtract 0 * 0 for the second-order term: their value is left as it is
    inverse_r0 = torch.where(second, 1.0 / ((lambda_s0 - lambda_s1) / h), 1.0)
    d1_coeff = torch.where(second, 0.5 * (alpha_t * (torch.exp(-h) - 1.0)), 0.0)
    sigma_s0_rows, alpha_s0_rows, sample_coeff, d0_coeff, inverse_r0, d1_coeff = _on_rows(
        sample, sigma_s0, alpha_s0, sigma_t / sigma_s0, alpha_t * (torch.exp(-h) - 1.0), inverse_r0, d1_coeff
    )

    original = model_output
    if config.prediction_type == "epsilon":
        original = _divide(sample - sigma_s0_rows * model_output, alpha_s0_rows)
    current = original.split([part.rows for part in parts])
    previous = []
    for part, rows, first in zip(parts, current, first_order, strict=True):
        history = part.scheduler.model_outputs
        previous.append(rows if first else history[-1])
        history[:-1], history[-1] = history[1:], rows
    prev_sample = sample_coeff * sample.to(torch.float32) - d0_coeff * original
    if any(not first for first in first_order):
        prev_sample = prev_sample - d1_coeff * (inverse_r0 * (original - torch.cat(previous)))
    for part in parts:
        scheduler = part.scheduler
        scheduler.lower_order_nums = min(scheduler.lower_order_nums + 1, config.solver_order)
        scheduler._step_index += 1
    return prev_sample.to(original.dtype)
