"""A small synchronous Python client of GenerationService, used by the CLI."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from unclip.v1 import generation_pb2, generation_pb2_grpc, sampling_pb2

SCHEDULERS = {
    "unclip": sampling_pb2.SCHEDULER_UNCLIP,
    "ddpm": sampling_pb2.SCHEDULER_DDPM,
    "ddim": sampling_pb2.SCHEDULER_DDIM,
    "dpm_solver_pp": sampling_pb2.SCHEDULER_DPM_SOLVER_PP,
}
SIZES = {64: generation_pb2.IMAGE_SIZE_64, 256: generation_pb2.IMAGE_SIZE_256,
         1024: generation_pb2.IMAGE_SIZE_1024}


@dataclass(frozen=True)
class Sampling:
    """One stage's knobs; None keeps the bundle's default."""

    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None

    def to_proto(self) -> sampling_pb2.SamplingParams:
        params = sampling_pb2.SamplingParams()
        if self.steps is not None:
            params.num_inference_steps = self.steps
        if self.guidance is not None:
            params.guidance_scale = self.guidance
        if self.scheduler is not None:
            params.scheduler = SCHEDULERS[self.scheduler]
        return params


@dataclass(frozen=True)
class Generation:
    png_images: list[bytes]
    seed: int
    size: int


class GenerationClient:
    def __init__(self, target: str, *, token: str | None = None,
                 credentials: grpc.ChannelCredentials | None = None, max_message_mb: int = 64):
        options = [("grpc.max_receive_message_length", max_message_mb * 1024 * 1024)]
        self._channel = (grpc.secure_channel(target, credentials, options=options) if credentials
                         else grpc.insecure_channel(target, options=options))
        self._stub = generation_pb2_grpc.GenerationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def __enter__(self) -> "GenerationClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def generate_events(self, prompt: str, *, num_images: int = 1, size: int | None = None,
                        seed: int | None = None, stages: dict[str, Sampling] | None = None,
                        timeout: float | None = None) -> Iterator[generation_pb2.GenerationEvent]:
        """The raw event stream; stages maps prior/decoder/upsampler_256/upsampler_1024 to knobs."""
        request = generation_pb2.GenerateImagesRequest(prompt=prompt, num_images=num_images,
                                                       size=SIZES[size] if size else 0)
        if seed is not None:
            request.seed = seed
        for stage, sampling in (stages or {}).items():
            getattr(request, stage).CopyFrom(sampling.to_proto())
        return self._events(self._stub.GenerateImages(request, timeout=timeout, metadata=self._metadata))

    @staticmethod
    def _events(responses) -> Iterator[generation_pb2.GenerationEvent]:
        return (response.event for response in responses)

    def generate(self, prompt: str, *, on_event: Callable | None = None, **options) -> Generation:
        for event in self.generate_events(prompt, **options):
            if on_event is not None:
                on_event(event)
            if event.HasField("result"):
                result = event.result
                return Generation(list(result.png_images), result.seed, result.size)
        raise RuntimeError("the stream ended without a result")
