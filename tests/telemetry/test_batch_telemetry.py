"""The step batcher's spans and metrics: a span per batched step, linked to the requests in it."""

import asyncio
import threading

import torch

from services.runtime.step_batcher import StepBatcher
from services.telemetry.metrics import REGISTRY
from services.telemetry.tracing import tracer


class Trajectory:
    def __init__(self, steps: int):
        self.step, self.total_steps = 0, steps

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps


class GatedModel:
    """Holds its first step until `go` is set, so later requests queue up and join one batch."""

    def __init__(self):
        self.go = threading.Event()

    def denoise(self, batch):
        self.go.wait(5)
        for trajectory in batch:
            trajectory.step += 1

    def finish(self, trajectory):
        return torch.tensor(trajectory.total_steps)


def _value(name: str, stage: str) -> float:
    return REGISTRY.get_sample_value(name, {"stage": stage}) or 0.0


def test_batched_steps_are_spans_linked_to_each_request_and_are_measured(spans):
    stage = "test_batch"
    model = GatedModel()
    batcher = StepBatcher(model, max_batch_size=4, max_queue=8, stage=stage)

    async def request(name: str, steps: int):
        with tracer().start_as_current_span(name) as span:
            await batcher.run(Trajectory(steps))
        return span.get_span_context()

    async def scenario():
        first = asyncio.create_task(request("first", 1))
        await asyncio.sleep(0.05)  # "first" is in its step; the next two wait together
        others = [asyncio.create_task(request(n, 2)) for n in ("second", "third")]
        await asyncio.sleep(0.05)
        assert _value("unclip_queue_depth", stage) == 2
        model.go.set()
        return await asyncio.gather(first, *others)

    first, second, third = asyncio.run(scenario())
    batches = [s for s in spans.get_finished_spans() if s.name == "batch forward"]
    assert [s.attributes["unclip.batch_size"] for s in batches] == [1, 2, 2]
    assert batches[0].parent.span_id == first.span_id
    for batch in batches[1:]:
        assert batch.parent.span_id == second.span_id
        assert [link.context.span_id for link in batch.links] == [second.span_id, third.span_id]
    assert _value("unclip_queue_depth", stage) == 0
    assert _value("unclip_batch_size_count", stage) == 3 and _value("unclip_batch_size_sum", stage) == 5
    assert _value("unclip_denoise_step_seconds_count", stage) == 3
