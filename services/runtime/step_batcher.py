"""Iteration-level batching of diffusion trajectories across requests.

One worker thread runs the denoising loop of every active trajectory together: one model.denoise
(one network forward) per step for the whole batch. At each step boundary finished trajectories
leave (their results go back to their callers) and waiting ones join, up to max_batch_size, so a
request never waits for another request's remaining steps. An error belongs to its request: when a
batched step fails, each trajectory that did not advance is retried alone for that step, and only
the ones that fail alone are failed. The worker exits when there is no work and starts on demand.
"""

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from opentelemetry.trace import SpanContext, Status, StatusCode

from services.runtime.errors import ResourceExhausted
from services.telemetry.metrics import BATCH_SIZE, QUEUE_DEPTH, STEP_SECONDS
from services.telemetry.tracing import batch_span, current_span_context

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Progress:
    step: int
    total_steps: int


class Trajectory(Protocol):
    """What the batcher needs of a trajectory (services.diffusion.trajectory has the real one)."""

    step: int

    @property
    def total_steps(self) -> int: ...

    @property
    def done(self) -> bool: ...


class BatchModel(Protocol):
    def denoise(self, batch: list[Any]) -> None:
        """One step for every trajectory in `batch` (one forward), advancing each one's `step`."""

    def finish(self, trajectory: Any) -> torch.Tensor: ...


@dataclass(eq=False)
class _Job:
    trajectory: Trajectory
    loop: asyncio.AbstractEventLoop
    span: SpanContext  # the caller's span when it submitted: batch spans link to it
    inbox: asyncio.Queue = field(default_factory=asyncio.Queue)  # ("step"|"result"|"error", ...)
    gone: bool = False  # set by the caller when it stops waiting, by the worker when settled


def _post(events: list[tuple[_Job, tuple]]) -> None:
    """Hands each job its event ("step"|"result"|"error", ...) from the worker thread, waking each
    callers' event loop once for all of its jobs (not once per job: 16 wake-ups a step cost more than
    the vectorised step itself)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Job, tuple]]] = {}
    for job, event in events:
        by_loop.setdefault(job.loop, []).append((job, event))
    for loop, loop_events in by_loop.items():
        try:
            loop.call_soon_threadsafe(_deliver, loop_events)
        except RuntimeError:  # the callers' loop is closed: nobody is waiting any more
            for job, _ in loop_events:
                job.gone = True


def _deliver(events: list[tuple[_Job, tuple]]) -> None:
    for job, event in events:
        job.inbox.put_nowait(event)


JOIN_POLICIES = ("step", "request")


class StepBatcher:
    def __init__(
        self,
        model: BatchModel,
        max_batch_size: int,
        max_queue: int,
        join: str = "step",
        stage: str = "unnamed",
    ):
        """join: "step" admits waiting trajectories at every step boundary (iteration-level
        scheduling); "request" only when the running batch has finished (classic request batching).
        stage labels the batcher's metrics and spans.
        """
        if max_batch_size < 1 or max_queue < 1:
            raise ValueError("max_batch_size and max_queue must be >= 1")
        if join not in JOIN_POLICIES:
            raise ValueError(f"join must be one of {JOIN_POLICIES}")
        self._join = join
        self._stage = stage
        self._queue_depth = QUEUE_DEPTH.labels(stage)
        self._model = model
        self._max_batch_size = max_batch_size
        self._max_queue = max_queue
        self._lock = threading.Lock()
        self._waiting: deque[_Job] = deque()
        self._active: list[_Job] = []
        self._worker: threading.Thread | None = None

    @property
    def queue_depth(self) -> int:
        """Trajectories waiting to join the batch."""
        return len(self._waiting)

    @property
    def active(self) -> int:
        """Trajectories in the batch now."""
        return len(self._active)

    async def events(self, trajectory: Trajectory) -> AsyncIterator[Progress | torch.Tensor]:
        """Runs `trajectory` in the shared batch: a Progress after each finished step, then
        model.finish(trajectory).

        Raises ResourceExhausted at once when max_queue trajectories are already waiting or
        running. Cancelling the caller, or closing the iterator, takes the trajectory out of the
        batch before its next step; the events are awaited in the caller's own task, so nothing
        is left pending behind it.
        """
        job = _Job(trajectory, asyncio.get_running_loop(), current_span_context())
        with self._lock:
            queued = len(self._waiting) + len(self._active)
            if queued >= self._max_queue:
                raise ResourceExhausted(
                    f"{queued} requests are waiting or running (max_queue {self._max_queue}); retry later"
                )
            self._waiting.append(job)
            self._queue_depth.inc()
            if self._worker is None:
                self._worker = threading.Thread(target=self._work, name="step-batcher", daemon=True)
                self._worker.start()
        try:
            while True:
                kind, *payload = await job.inbox.get()
                if kind == "step":
                    yield Progress(*payload)
                elif kind == "result":
                    yield payload[0]
                    return
                else:
                    raise payload[0]
        finally:
            job.gone = True

    async def run(self, trajectory: Trajectory) -> torch.Tensor:
        """Runs `trajectory` to the end in the shared batch and returns model.finish(trajectory)."""
        results = [event async for event in self.events(trajectory) if not isinstance(event, Progress)]
        return results[-1]

    def _work(self) -> None:
        try:
            while batch := self._next_batch():
                self._step(batch)
        except Exception as error:  # a bug here must not leave callers waiting forever
            logger.exception("step batcher worker failed")
            with self._lock:
                stranded = [*self._active, *self._waiting]
                self._queue_depth.dec(len(self._waiting))
                self._active, self._waiting, self._worker = [], deque(), None
            _post([(job, ("error", error)) for job in stranded])

    def _next_batch(self) -> list[_Job]:
        """Drops settled and abandoned jobs, admits waiting ones; ends the worker when idle."""
        with self._lock:
            self._active = [job for job in self._active if not job.gone]
            may_join = self._join == "step" or not self._active
            while may_join and self._waiting and len(self._active) < self._max_batch_size:
                job = self._waiting.popleft()
                self._queue_depth.dec()
                if not job.gone:
                    self._active.append(job)
            if not self._active:
                self._worker = None
            return list(self._active)

    def _step(self, batch: list[_Job]) -> None:
        started = time.perf_counter()
        with batch_span(
            "batch forward",
            [job.span for job in batch],
            {"unclip.stage": self._stage, "unclip.batch_size": len(batch)},
        ) as span:
            failures = self._denoise(batch)
            if failures:
                span.set_status(Status(StatusCode.ERROR, f"{len(failures)} trajectories failed"))
        STEP_SECONDS.labels(self._stage).observe(time.perf_counter() - started)
        BATCH_SIZE.labels(self._stage).observe(len(batch))
        events: list[tuple[_Job, tuple]] = []
        for job in batch:
            if job in failures:
                events.append((job, ("error", failures[job])))
                job.gone = True
            else:
                events.append((job, ("step", job.trajectory.step, job.trajectory.total_steps)))
                if job.trajectory.done:
                    events.append((job, self._finish(job)))
                    job.gone = True
        _post(events)

    def _denoise(self, batch: list[_Job]) -> dict[_Job, Exception]:
        """One step for the batch; returns the jobs whose own step failed, with their errors."""
        before = [job.trajectory.step for job in batch]
        try:
            self._model.denoise([job.trajectory for job in batch])
            return {}
        except Exception as error:  # the error belongs to some request
            if len(batch) == 1:
                return {batch[0]: error}
            logger.warning(
                "a step of %d trajectories failed (%s); retrying them one by one", len(batch), error
            )
        failures = {}
        for job, step in zip(batch, before, strict=True):
            if job.trajectory.step != step:
                continue  # it advanced before the failure
            try:
                self._model.denoise([job.trajectory])
            except Exception as error:
                failures[job] = error
        return failures

    def _finish(self, job: _Job) -> tuple:
        """The job's last event: its result, or the error that finishing raised."""
        try:
            return "result", self._model.finish(job.trajectory)
        except Exception as error:
            return "error", error
