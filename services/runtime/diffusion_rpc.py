"""What the three diffusion servicers share: the sampling knobs and the streamed reply."""

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from dataclasses import dataclass

import torch
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode

from services.bundle.loader import Bundle
from services.diffusion.schedulers import min_steps
from services.diffusion.stage_model import DiffusionStageModel
from services.runtime import validation
from services.runtime.errors import InvalidArgument, Unavailable
from services.runtime.lifecycle import StageService
from services.runtime.settings import ServerSettings
from services.runtime.shared_memory import SharedMemory
from services.runtime.step_batcher import Progress
from services.telemetry.tracing import tracer
from unclip.v1 import sampling_pb2

MAX_ROWS = 16  # images per stage request; the orchestrator's own limit is lower


def check_rows(rows: int, field: str) -> None:
    if rows > MAX_ROWS:
        raise InvalidArgument(field, f"must have at most {MAX_ROWS} rows")


@dataclass(frozen=True)
class Knobs:
    steps: int
    guidance_scale: float
    scheduler: str
    eta: float
    generator: torch.Generator


def sampling_knobs(request, model, field: str = "sampling") -> Knobs:
    """Steps, guidance, scheduler and eta from the request, else the bundle's defaults; the noise source."""
    defaults = model.defaults
    params = request.sampling
    scheduler = validation.scheduler_name(params, f"{field}.scheduler", defaults.scheduler)
    steps = validation.num_inference_steps(
        params, f"{field}.num_inference_steps", defaults.num_inference_steps, model.max_steps
    )
    if steps < min_steps(scheduler):
        raise InvalidArgument(
            f"{field}.num_inference_steps",
            f"the {scheduler} scheduler needs at least {min_steps(scheduler)} steps",
        )
    return Knobs(
        steps=steps,
        guidance_scale=validation.guidance_scale(params, f"{field}.guidance_scale", defaults.guidance_scale),
        scheduler=scheduler,
        eta=validation.eta(params, f"{field}.eta", scheduler),
        generator=validation.random_state(request.random, "random"),
    )


class DiffusionStage:
    """A loaded diffusion model and its step batcher; servicers hold one, filled in at load."""

    def __init__(self, stage: str, shared: SharedMemory | None = None):
        self.stage = stage
        self.shared = shared  # the node's shared memory, where the stage has one
        self.model = None
        self.batcher = None
        self._make_batcher: Callable | None = None

    def attach(self, model, make_batcher: Callable) -> None:
        """make_batcher(model) -> StepBatcher with the stage's limits; also used for extra models."""
        self._make_batcher = make_batcher
        self.model, self.batcher = model, make_batcher(model)

    def new_batcher(self, model):
        """A batcher with the stage's limits for another model of the stage (e.g. the decoder's inversion)."""
        return self._make_batcher(model)

    def loaded_model(self):
        if self.model is None:
            raise Unavailable(self.stage, "the model is still loading")
        return self.model

    async def stream(
        self, trajectory, response_type, result: Callable[[torch.Tensor, bytes], object], batcher=None
    ) -> AsyncIterator:
        """Progress messages for each step, then the result built from the output and generator state,
        all in one "sampling loop" span (the parent of the batch forwards it joins first). However
        the stream ends (done, failed, cancelled or closed early), the trajectory leaves the batch
        with it."""
        attributes = {
            "unclip.stage": self.stage,
            "unclip.steps": trajectory.total_steps,
            "unclip.guidance_scale": trajectory.guidance_scale,
            "unclip.scheduler": type(trajectory.scheduler).__name__,
            "unclip.images": trajectory.latents.shape[0],
        }
        batcher = batcher or self.batcher
        if batcher is None:
            raise Unavailable(self.stage, "the model is still loading")
        # The span is current only while the trajectory joins the batch (the batcher links its batch
        # spans to it then), never across a yield: a stream a cancel leaves suspended is closed later
        # by the event loop in another task, where detaching a context attached here fails.
        span = tracer().start_span("sampling loop", attributes=attributes)
        try:
            async with aclosing(batcher.events(trajectory)) as events:
                with trace.use_span(span):
                    item = await anext(events, None)
                while item is not None:
                    if isinstance(item, Progress):
                        yield response_type(
                            progress=sampling_pb2.StepProgress(step=item.step, total_steps=item.total_steps)
                        )
                    else:
                        yield response_type(
                            result=result(item, bytes(trajectory.generator.get_state().numpy()))
                        )
                    item = await anext(events, None)
        except Exception as error:
            span.record_exception(error)
            span.set_status(Status(StatusCode.ERROR, str(error)))
            raise
        finally:
            span.end()


class DiffusionStageService(StageService):
    """A diffusion stage: its model (in process, or its network on Triton) behind a StepBatcher with the
    stage's limits. Subclasses load their model class (in `self.compute_dtype`) and make their servicer
    over `self.holder`. A network on Triton runs in float32 whatever --compute-dtype says."""

    def __init__(self, stage: str, settings: ServerSettings) -> None:
        super().__init__(stage, settings)
        self.holder = DiffusionStage(stage, SharedMemory.configured(settings.shared_memory_dir))

    def load_model(self, bundle: Bundle) -> DiffusionStageModel:
        raise NotImplementedError

    def load(self) -> None:
        from services.bundle.loader import open_bundle
        from services.runtime.step_batcher import StepBatcher

        settings = self.settings
        bundle = open_bundle(settings.bundle)
        if settings.model_backend == "triton":
            from services.triton.stage_models import triton_stage_model

            model = triton_stage_model(self.stage, bundle, settings)
        else:
            model = self.load_model(bundle)
        self.holder.attach(
            model,
            lambda model: StepBatcher(
                model, settings.max_batch_size, settings.max_queue, settings.batch_join, self.stage
            ),
        )
