"""The scheduler registry: each sampler's name, its unclip.v1.Scheduler value and what it takes.

The builders live in services/diffusion/schedulers.py; the wire enum, validation, the SDK, the command
line and bundle manifests take their names from here. Like the stage registry it imports no generated
code until asked for an enum value (bundle manifests are read inside Triton's Python backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from unclip.v1 import sampling_pb2


@dataclass(frozen=True)
class Scheduler:
    name: str
    min_steps: int = 1  # UnCLIPScheduler spaces timesteps by (T - 1) / (steps - 1): 2 at least
    takes_eta: bool = False  # DDIM's stochasticity

    @property
    def enum(self) -> sampling_pb2.Scheduler:
        """Its value in unclip.v1.Scheduler: SCHEDULER_ and its name in capitals."""
        from unclip.v1 import sampling_pb2

        return sampling_pb2.Scheduler.Value(f"SCHEDULER_{self.name.upper()}")


SCHEDULERS = (
    Scheduler("unclip", min_steps=2),
    Scheduler("ddpm"),
    Scheduler("ddim", takes_eta=True),
    Scheduler("dpm_solver_pp"),
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
