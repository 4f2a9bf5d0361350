"""The step batcher's own cost per trajectory per step: a network that returns its input, N trajectories.

What is left when the network costs nothing is the batching itself: gathering the batch's inputs,
guidance, the scheduler step, splitting the outputs, and the worker thread handing progress events to
the callers' event loop. Two ways of stepping the schedulers run side by side, alternating, in one
process with torch at 1 thread: "per trajectory" (each trajectory's own diffusers step, as before the
vectorised step) and "vectorised" (one batched step per batch, services/diffusion/batched_step.py).
Prints microseconds per trajectory-step, wall and CPU (the process's CPU time: less disturbed by other
processes on a busy machine), each the median of the repeats with the min-max range.

    python -m benchmarks.batcher_overhead --trajectories 16 --steps 25 --repeats 5
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import torch

from services.diffusion.trajectory import Trajectory, advance_batch, batched_forward, start_trajectory
from services.runtime.malloc_tuning import keep_freed_memory
from services.runtime.step_batcher import StepBatcher
from services.scheduler_registry import NAMES as SCHEDULER_NAMES

CONFIG = {"num_train_timesteps": 1000, "variance_type": "fixed_small_log", "prediction_type": "epsilon"}


def _identity(sample: torch.Tensor, timesteps: torch.Tensor) -> torch.Tensor:
    return sample


class IdentityModel:
    """A stage model (the step batcher's BatchModel) whose network returns its input."""

    def __init__(self, scheduler: str, shape: tuple[int, ...], steps: int, guidance: float, vectorised: bool):
        self.scheduler, self.shape, self.steps, self.guidance = scheduler, shape, steps, guidance
        self.vectorised = vectorised

    def start(self, seed: int) -> Trajectory:
        return start_trajectory(
            shape=self.shape,
            scheduler_name=self.scheduler,
            scheduler_config=CONFIG,
            steps=self.steps,
            generator=torch.Generator().manual_seed(seed),
            device=torch.device("cpu"),
            guidance_scale=self.guidance,
        )

    @torch.inference_mode()
    def denoise(self, batch: list[Trajectory]) -> None:
        outputs = batched_forward(batch, (), _identity, torch.float32)
        if self.vectorised:
            advance_batch(batch, outputs)
        else:
            for trajectory, output in zip(batch, outputs, strict=True):
                trajectory.advance(output)

    def finish(self, trajectory: Trajectory) -> torch.Tensor:
        return trajectory.latents


async def _seconds(model: IdentityModel, trajectories: int) -> tuple[float, float]:
    """Wall and CPU seconds for `trajectories` requests run together to the end."""
    batcher = StepBatcher(model, max_batch_size=trajectories, max_queue=trajectories)
    started = [model.start(seed) for seed in range(trajectories)]
    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(batcher.run(trajectory) for trajectory in started))
    return time.perf_counter() - wall, time.process_time() - cpu


def _cell(samples: list[float]) -> str:
    return f"{statistics.median(samples):6.0f} ({min(samples):.0f}-{max(samples):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trajectories", type=int, default=16)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--shape", default="3,64,64", help="one trajectory's latents, without the batch")
    parser.add_argument("--guidance", type=float, default=4.0)
    args = parser.parse_args()
    keep_freed_memory(os.environ)  # as every stage server does (MALLOC_TOP_PAD_=131072: glibc's own)
    torch.set_num_threads(1)
    shape = (1, *(int(size) for size in args.shape.split(",")))
    per_step = args.trajectories * args.steps / 1e6
    print(f"{args.trajectories} trajectories x {args.steps} steps, latents {shape}, guidance {args.guidance}")
    print(f"{'scheduler':<14} {'step':<15} {'wall us':>18} {'CPU us':>18}")
    for scheduler in SCHEDULER_NAMES:
        models = {
            way: IdentityModel(scheduler, shape, args.steps, args.guidance, way == "vectorised")
            for way in ("per trajectory", "vectorised")
        }
        times: dict[str, list[tuple[float, float]]] = {way: [] for way in models}
        asyncio.run(_seconds(models["vectorised"], args.trajectories))  # warm-up
        for _ in range(args.repeats):
            for way, model in models.items():
                times[way].append(
                    tuple(seconds / per_step for seconds in asyncio.run(_seconds(model, args.trajectories)))
                )
        for way, samples in times.items():
            wall, cpu = zip(*samples, strict=True)
            print(f"{scheduler:<14} {way:<15} {_cell(wall):>18} {_cell(cpu):>18}")


if __name__ == "__main__":
    main()
