"""The vectorised scheduler step equals each trajectory's own diffusers step, bit for bit on float32."""

from __future__ import annotations

import pytest
import torch

from services.diffusion.batched_step import vectorised
from services.diffusion.schedulers import build_scheduler
from services.diffusion.trajectory import Trajectory, advance_batch, start_trajectory
from services.scheduler_registry import NAMES as SCHEDULER_NAMES

DECODER = {
    "num_train_timesteps": 1000,
    "variance_type": "learned_range",
    "prediction_type": "epsilon",
    "clip_sample": True,
    "clip_sample_range": 1.0,
}
PRIOR = {**DECODER, "variance_type": "fixed_small_log", "prediction_type": "sample", "clip_sample_range": 5.0}
# 10 training timesteps sampled in 10 steps: UnCLIPScheduler's consecutive-timestep branch
SHORT = {**DECODER, "num_train_timesteps": 10}
CONFIGS = {"decoder": DECODER, "prior": PRIOR, "short": SHORT}
# (seed, rows, steps, guidance, eta, round it joins at): different lengths and joins put the rows of
# one batch at different steps of different schedules
TRAJECTORIES = [
    (0, 1, 4, 4.0, 0.0, 0),
    (1, 2, 7, 1.0, 0.5, 0),
    (2, 1, 10, 2.5, 1.0, 1),
    (3, 3, 5, 1.0, 0.0, 3),
]
# a guided trajectory of two rows: guided rows of unequal counts are gathered, not viewed
UNEQUAL_GUIDED = [*TRAJECTORIES, (4, 2, 6, 3.0, 0.0, 2)]


def _start(
    name: str,
    config: dict,
    seed: int,
    rows: int,
    steps: int,
    guidance: float,
    eta: float,
    shape: tuple[int, ...],
) -> Trajectory:
    return start_trajectory(
        shape=(rows, *shape),
        scheduler_name=name,
        scheduler_config=config,
        steps=min(steps, config["num_train_timesteps"]),
        generator=torch.Generator().manual_seed(seed),
        device=torch.device("cpu"),
        guidance_scale=guidance,
        eta=eta,
    )


def _run(
    name: str,
    config: dict,
    shape: tuple[int, ...],
    batched: bool,
    specs: list[tuple] = TRAJECTORIES,
    one_output: bool = False,
) -> list[list[torch.Tensor]]:
    """Every trajectory's latents after each of its steps; network outputs drawn from one seed, as
    separate tensors or (`one_output`) split from one, as a batched forward returns them."""
    trajectories = [_start(name, config, *spec[:5], shape) for spec in specs]
    history: list[list[torch.Tensor]] = [[] for _ in trajectories]
    outputs = torch.Generator().manual_seed(99)
    channels = 2 * shape[0] if config["variance_type"] == "learned_range" else shape[0]
    for round_ in range(20):
        batch = [t for t, spec in zip(trajectories, specs, strict=True) if spec[5] <= round_ and not t.done]
        if not batch:
            break
        network = [torch.randn(t.rows, channels, *shape[1:], generator=outputs) * 3 for t in batch]
        if one_output:
            network = list(torch.cat(network).split([t.rows for t in batch]))
        if batched:
            advance_batch(batch, network)
        else:
            for trajectory, output in zip(batch, network, strict=True):
                trajectory.advance(output)
        for trajectory in batch:
            history[trajectories.index(trajectory)].append(trajectory.latents.clone())
    assert all(t.done for t in trajectories)
    return history + [[t.generator.get_state()] for t in trajectories]


@pytest.mark.parametrize(
    ("specs", "one_output"), [(TRAJECTORIES, False), (TRAJECTORIES, True), (UNEQUAL_GUIDED, True)]
)
@pytest.mark.parametrize("config", CONFIGS)
@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_batched_step_equals_each_trajectorys_own_step(name, config, specs, one_output):
    shape = (4,) if config == "prior" else (3, 4, 4)
    alone = _run(name, CONFIGS[config], shape, False, specs)
    together = _run(name, CONFIGS[config], shape, True, specs, one_output)
    for steps_alone, steps_together in zip(alone, together, strict=True):
        assert len(steps_alone) == len(steps_together)
        for a, b in zip(steps_alone, steps_together, strict=True):
            # bit for bit (DPM-Solver++ on SHORT ends in NaN, in diffusers too); the generators' states too
            torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_served_scheduler_is_vectorised(name):
    assert all(vectorised(build_scheduler(name, config)) for config in CONFIGS.values())


def test_a_trajectory_that_extends_advance_steps_alone():
    advanced_alone = []

    class Extended(Trajectory):
        def advance(self, output: torch.Tensor) -> None:
            advanced_alone.append(self)
            super().advance(output)

    plain = _start("unclip", PRIOR, 0, 1, 3, 1.0, 0.0, (4,))
    extended = _start("unclip", PRIOR, 0, 1, 3, 1.0, 0.0, (4,))
    extended = Extended(**{name: getattr(extended, name) for name in extended.__dataclass_fields__})
    advance_batch([plain, extended], [torch.zeros(1, 4), torch.zeros(1, 4)])
    assert advanced_alone == [extended] and [plain.step, extended.step] == [1, 1]
    assert torch.equal(extended.latents, plain.latents)
