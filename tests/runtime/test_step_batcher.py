import asyncio
import threading
from dataclasses import dataclass

import pytest
import torch

from services.runtime.errors import ResourceExhausted
from services.runtime.step_batcher import Progress, StepBatcher

TIMEOUT = 5.0


@dataclass(eq=False)
class Traj:
    name: str
    total_steps: int
    step: int = 0

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps


class FakeModel:
    """Records each denoise call's batch (by name); optionally gated and failing on demand.

    gate: each denoise takes one permit (tests hand them out); fail: name -> step at which that
    trajectory's own step raises (after the trajectories before it in the batch advanced).
    """

    def __init__(
        self,
        gated: bool = False,
        fail: dict[str, int] | None = None,
        fail_finish: frozenset[str] = frozenset(),
    ):
        self.batches: list[list[str]] = []
        self.gate = threading.Semaphore(0) if gated else None
        self.entered = threading.Event()
        self.fail = fail or {}
        self.fail_finish = fail_finish

    def denoise(self, batch: list[Traj]) -> None:
        self.batches.append([t.name for t in batch])
        self.entered.set()
        if self.gate is not None and not self.gate.acquire(timeout=TIMEOUT):
            raise TimeoutError("test gate never opened")
        for traj in batch:
            if self.fail.get(traj.name) == traj.step:
                raise RuntimeError(f"{traj.name} exploded")
            traj.step += 1

    def finish(self, traj: Traj) -> torch.Tensor:
        if traj.name in self.fail_finish:
            raise ValueError(f"{traj.name} cannot finish")
        return torch.tensor([traj.step])

    def open(self) -> None:
        self.gate.release(1000)


async def until(condition) -> None:
    async with asyncio.timeout(TIMEOUT):
        while not condition():
            await asyncio.sleep(0.001)


async def wait_entered(model: FakeModel) -> None:
    assert await asyncio.to_thread(model.entered.wait, TIMEOUT)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT * 2))


def test_single_request_reports_every_step_then_its_result():
    async def scenario():
        model = FakeModel()
        events = [event async for event in StepBatcher(model, 4, 8).events(Traj("a", 3))]
        return model, events

    model, events = run(scenario())
    assert events[:-1] == [Progress(1, 3), Progress(2, 3), Progress(3, 3)]
    assert torch.equal(events[-1], torch.tensor([3]))
    assert model.batches == [["a"], ["a"], ["a"]]


def test_requests_join_at_step_boundaries_and_leave_when_done():
    async def scenario():
        model = FakeModel(gated=True)
        batcher = StepBatcher(model, max_batch_size=2, max_queue=8)
        a = asyncio.create_task(batcher.run(Traj("a", 2)))
        await wait_entered(model)  # "a" is mid-step, alone
        b = asyncio.create_task(batcher.run(Traj("b", 3)))
        c = asyncio.create_task(batcher.run(Traj("c", 1)))
        await until(lambda: batcher.queue_depth == 2)
        assert batcher.active == 1
        model.open()
        results = await asyncio.gather(a, b, c)
        await until(lambda: batcher.active == 0)
        return model.batches, results

    batches, results = run(scenario())
    # b and c join after a's first step; the batch holds 2, so c waits for a's slot.
    assert batches == [["a"], ["a", "b"], ["b", "c"], ["b"]]
    assert [r.item() for r in results] == [2, 3, 1]


def test_request_join_policy_waits_for_the_running_batch_to_finish():
    async def scenario():
        model = FakeModel(gated=True)
        batcher = StepBatcher(model, max_batch_size=2, max_queue=8, join="request")
        a = asyncio.create_task(batcher.run(Traj("a", 2)))
        await wait_entered(model)
        b = asyncio.create_task(batcher.run(Traj("b", 2)))
        c = asyncio.create_task(batcher.run(Traj("c", 1)))
        await until(lambda: batcher.queue_depth == 2)
        model.open()
        await asyncio.gather(a, b, c)
        return model.batches

    # b and c wait until a has finished, then start together.
    assert run(scenario()) == [["a"], ["a"], ["b", "c"], ["b"]]


def test_queue_full_is_refused_at_once():
    async def scenario():
        model = FakeModel(gated=True)
        batcher = StepBatcher(model, max_batch_size=1, max_queue=2)
        first = asyncio.create_task(batcher.run(Traj("a", 1)))
        await wait_entered(model)
        second = asyncio.create_task(batcher.run(Traj("b", 1)))
        await until(lambda: batcher.queue_depth == 1)
        with pytest.raises(ResourceExhausted, match="max_queue 2"):
            await batcher.run(Traj("c", 1))
        model.open()
        await asyncio.gather(first, second)
        # Room again once they are done.
        return await batcher.run(Traj("d", 1))

    assert run(scenario()).item() == 1


def test_an_error_fails_only_its_own_request():
    async def scenario():
        # "a" advances before "b" explodes in the batched step: "a" must not step twice.
        model = FakeModel(gated=True, fail={"b": 0})
        batcher = StepBatcher(model, max_batch_size=4, max_queue=8)
        a = asyncio.create_task(batcher.run(Traj("a", 3)))
        await wait_entered(model)
        b = asyncio.create_task(batcher.run(Traj("b", 3)))
        c = asyncio.create_task(batcher.run(Traj("c", 2)))
        await until(lambda: batcher.queue_depth == 2)
        model.open()
        outcomes = await asyncio.gather(a, b, c, return_exceptions=True)
        return model.batches, outcomes

    batches, (a, b, c) = run(scenario())
    assert a.item() == 3 and c.item() == 2
    assert isinstance(b, RuntimeError) and str(b) == "b exploded"
    # b fails in the shared step after a advanced: b and c are retried alone, a is not; then b
    # is gone and the others go on together.
    assert batches == [["a"], ["a", "b", "c"], ["b"], ["c"], ["a", "c"]]


def test_error_of_a_lone_request_and_in_finish():
    async def scenario():
        lone = StepBatcher(FakeModel(fail={"x": 0}), 2, 2)
        with pytest.raises(RuntimeError, match="x exploded"):
            await lone.run(Traj("x", 2))
        finishing = StepBatcher(FakeModel(fail_finish=frozenset({"y"})), 2, 2)
        with pytest.raises(ValueError, match="y cannot finish"):
            await finishing.run(Traj("y", 1))
        # the caller wakes before the worker drops the settled job: wait for the worker, bounded
        for batcher in (lone, finishing):
            await until(lambda batcher=batcher: (batcher.active, batcher.queue_depth) == (0, 0))

    run(scenario())


async def _record_steps(events, steps: list) -> None:
    async for event in events:
        steps.append(event)


def test_cancelled_request_leaves_the_batch_and_no_task_behind():
    async def scenario():
        model = FakeModel(gated=True)
        batcher = StepBatcher(model, max_batch_size=4, max_queue=8)
        steps, before = [], asyncio.all_tasks()
        long = asyncio.create_task(_record_steps(batcher.events(Traj("long", 100)), steps))
        await wait_entered(model)
        short = asyncio.create_task(batcher.run(Traj("short", 3)))
        await until(lambda: batcher.queue_depth == 1)
        model.gate.release(2)
        await until(lambda: len(steps) == 2)
        long.cancel()
        with pytest.raises(asyncio.CancelledError):
            await long
        assert asyncio.all_tasks() - before == {short}
        model.open()
        assert (await short).item() == 3
        await until(lambda: batcher.active == 0)
        return model.batches

    batches = run(scenario())
    with_long = [b for b in batches if "long" in b]
    # Steps 1 and 2 ran; the step in progress at cancellation may finish, then it is gone.
    assert 2 <= len(with_long) <= 4
    assert batches[-1] == ["short"]


def test_events_closed_early_leave_the_batch():
    async def scenario():
        model = FakeModel(gated=True)
        batcher = StepBatcher(model, max_batch_size=4, max_queue=8)
        events = batcher.events(Traj("a", 100))
        model.gate.release(1)
        assert await anext(events) == Progress(1, 100)
        await events.aclose()
        model.open()
        await until(lambda: batcher.active == 0 and batcher._worker is None)
        return len(model.batches)

    # The step after the first may have started before the close; none after it.
    assert run(scenario()) <= 2


def test_idle_worker_exits_and_restarts_on_demand():
    async def scenario():
        batcher = StepBatcher(FakeModel(), 2, 2)
        await batcher.run(Traj("a", 1))
        await until(lambda: batcher._worker is None)
        return await batcher.run(Traj("b", 2))

    assert run(scenario()).item() == 2


def test_invalid_limits():
    with pytest.raises(ValueError):
        StepBatcher(FakeModel(), 0, 1)


def test_one_step_wakes_each_callers_loop_once():
    """The worker hands all of a step's events for one event loop over in one call."""
    from services.runtime.step_batcher import _Job, _post

    class Loop:
        calls = 0

        def call_soon_threadsafe(self, callback, *args):
            Loop.calls += 1
            callback(*args)

    loop = Loop()
    jobs = [_Job(Traj(name, 3), loop, None) for name in "abc"]
    _post([(job, ("step", 1, 3)) for job in jobs] + [(jobs[0], ("result", "done"))])
    assert Loop.calls == 1
    assert [job.inbox.qsize() for job in jobs] == [2, 1, 1]
    assert jobs[0].inbox.get_nowait() == ("step", 1, 3)
