"""The scheduler registry: each sampler's name, its unclip.v1.Scheduler value and what it takes.

The builders live in services/diffusion/schedulers.py; the wire enum, validation, the SDK, the command
line and bundle manifests take their names from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from unclip.v1 import sampling_pb2


@dataclass(frozen=True)
class Scheduler:
    name: str
    enum: sampling_pb2.Scheduler  # its value in unclip.v1.Scheduler
    min_steps: int = 1    # UnCLIPScheduler spaces timesteps by (T - 1) / (steps - 1): 2 at least
    takes_eta: bool = False  # DDIM's stochasticity


SCHEDULERS = (
    Scheduler("unclip", sampling_pb2.SCHEDULER_UNCLIP, min_steps=2),
    Scheduler("ddpm", sampling_pb2.SCHEDULER_DDPM),
    Scheduler("ddim", sampling_pb2.SCHEDULER_DDIM, takes_eta=True),
    Scheduler("dpm_solver_pp", sampling_pb2.SCHEDULER_DPM_SOLVER_PP),
)
NAMES = tuple(s.name for s in SCHEDULERS)


def by_name(name: str) -> Scheduler:
    for scheduler in SCHEDULERS:
        if scheduler.name == name:
            return scheduler
    raise ValueError(f"unknown scheduler {name!r}, expected one of {', '.join(NAMES)}")


def by_enum(value: int) -> Scheduler:
    for scheduler in SCHEDULERS:
        if scheduler.enum == value:
            return scheduler
    raise ValueError(f"unknown scheduler {value}")
