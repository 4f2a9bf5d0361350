"""Runs one trajectory through a StepBatcher and yields its step progress, then its result.

A diffusion servicer is a server-streaming method: this turns the batcher's step callbacks into an
async iterator, and cancels the trajectory when the caller goes away (the generator is closed).
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int


async def run_with_progress(batcher, trajectory) -> AsyncIterator[Progress | torch.Tensor]:
    steps: asyncio.Queue[Progress] = asyncio.Queue()
    run = asyncio.ensure_future(
        batcher.run(trajectory, on_step=lambda step, total: steps.put_nowait(Progress(step, total))))
    try:
        while not run.done() or not steps.empty():
            if steps.empty():
                next_step = asyncio.ensure_future(steps.get())
                await asyncio.wait({run, next_step}, return_when=asyncio.FIRST_COMPLETED)
                if not next_step.done():
                    next_step.cancel()
                    continue
                yield next_step.result()
            else:
                yield steps.get_nowait()
        yield run.result()
    finally:
        run.cancel()
