"""A small synchronous Python client of GenerationService, used by the CLI, and the request
builders it shares with the asyncio client (unclip_mesh/client/aio.py)."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from services import scheduler_registry
from services.runtime.rich_status import FailureDetails, read_details
from unclip.v1 import generation_pb2, generation_pb2_grpc, sampling_pb2


@dataclass(frozen=True)
class Sampling:
    """One stage's knobs; None keeps the bundle's default."""

    steps: int | None = None
    guidance: float | None = None
    scheduler: str | None = None
    eta: float | None = None  # DDIM only

    def to_proto(self) -> sampling_pb2.SamplingParams:
        params = sampling_pb2.SamplingParams()
        if self.steps is not None:
            params.num_inference_steps = self.steps
        if self.guidance is not None:
            params.guidance_scale = self.guidance
        if self.scheduler is not None:
            params.scheduler = scheduler_registry.by_name(self.scheduler).enum
        if self.eta is not None:
            params.eta = self.eta
        return params


@dataclass(frozen=True)
class Generation:
    png_images: list[bytes]
    seed: int
    size: int


def with_knobs(
    request, *, size: int | None = None, seed: int | None = None, stages: dict[str, Sampling] | None = None
):
    """Fills the knobs every request type shares (size, seed, per-stage sampling); returns it."""
    request.size = generation_pb2.ImageSize.Value(f"IMAGE_SIZE_{size}") if size else 0
    if seed is not None:
        request.seed = seed
    for stage, sampling in (stages or {}).items():
        if stage not in request.DESCRIPTOR.fields_by_name:
            raise ValueError(f"{rpc_name(request)} takes no {stage} knobs")
        getattr(request, stage).CopyFrom(sampling.to_proto())
    return request


def rpc_name(request) -> str:
    """The GenerationService method of a request message: GenerateImagesRequest -> GenerateImages."""
    return type(request).__name__.removesuffix("Request")


def variations_request(
    image: bytes, *, num_images: int = 1, eta: float | None = None
) -> generation_pb2.CreateVariationsRequest:
    """eta set: the paper's variations around the image's inverted noise (see the proto)."""
    request = generation_pb2.CreateVariationsRequest(
        image=generation_pb2.ImageInput(encoded=image), num_images=num_images
    )
    if eta is not None:
        request.eta = eta
    return request


def inpaint_request(
    image: bytes, prompt: str, *, mask: bytes | None = None, num_images: int = 1
) -> generation_pb2.InpaintImageRequest:
    """mask: PNG whose white pixels are redrawn; None uses the image's transparent pixels."""
    return generation_pb2.InpaintImageRequest(
        image=generation_pb2.ImageInput(encoded=image),
        prompt=prompt,
        num_images=num_images,
        mask=generation_pb2.ImageInput(encoded=mask or b""),
    )


def generation_of(event: generation_pb2.GenerationEvent) -> Generation | None:
    """The result an event carries, or None for a progress event."""
    if not event.HasField("result"):
        return None
    return Generation(list(event.result.png_images), event.result.seed, event.result.size)


def failure_details(error: grpc.RpcError) -> FailureDetails:
    """What a failed call carries besides its message (docs/API.md, Errors): the field violations of
    INVALID_ARGUMENT, the retry delay of RESOURCE_EXHAUSTED and the stage that failed."""
    return read_details(error)


class GenerationClient:
    def __init__(
        self,
        target: str,
        *,
        token: str | None = None,
        credentials: grpc.ChannelCredentials | None = None,
        max_message_mb: int = 64,
    ):
        options = [("grpc.max_receive_message_length", max_message_mb * 1024 * 1024)]
        self._channel = (
            grpc.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.insecure_channel(target, options=options)
        )
        self._stub = generation_pb2_grpc.GenerationServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {token}"),) if token else ()

    def __enter__(self) -> "GenerationClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self._channel.close()

    def _stream(
        self,
        request,
        *,
        size: int | None,
        seed: int | None,
        stages: dict[str, Sampling] | None,
        timeout: float | None,
    ):
        """Fills the knobs every request type shares, calls its method, yields GenerationEvents."""
        with_knobs(request, size=size, seed=seed, stages=stages)
        responses = getattr(self._stub, rpc_name(request))(request, timeout=timeout, metadata=self._metadata)
        return (response.event for response in responses)

    @staticmethod
    def _result(events, on_event: Callable | None) -> Generation:
        for event in events:
            if on_event is not None:
                on_event(event)
            if (generation := generation_of(event)) is not None:
                return generation
        raise RuntimeError("the stream ended without a result")

    def generate_events(
        self,
        prompt: str,
        *,
        num_images: int = 1,
        size: int | None = None,
        seed: int | None = None,
        stages: dict[str, Sampling] | None = None,
        timeout: float | None = None,
    ) -> Iterator[generation_pb2.GenerationEvent]:
        """The raw event stream; stages maps prior/decoder/upsampler_256/upsampler_1024 to knobs."""
        request = generation_pb2.GenerateImagesRequest(prompt=prompt, num_images=num_images)
        return self._stream(request, size=size, seed=seed, stages=stages, timeout=timeout)

    def generate(self, prompt: str, *, on_event: Callable | None = None, **options) -> Generation:
        return self._result(self.generate_events(prompt, **options), on_event)

    def create_variations(
        self,
        image: bytes,
        *,
        num_images: int = 1,
        eta: float | None = None,
        on_event: Callable | None = None,
        **options,
    ) -> Generation:
        """eta set: the paper's variations around the image's inverted noise (see the proto)."""
        request = variations_request(image, num_images=num_images, eta=eta)
        return self._result(self._stream(request, **_knobs(options)), on_event)

    def interpolate(
        self,
        start: bytes | str,
        end: bytes | str,
        *,
        num_images: int = 5,
        on_event: Callable | None = None,
        **options,
    ) -> Generation:
        """start/end: PNG/JPEG bytes or a prompt."""
        request = generation_pb2.InterpolateImagesRequest(
            start=_endpoint(start), end=_endpoint(end), num_images=num_images
        )
        return self._result(self._stream(request, **_knobs(options)), on_event)

    def edit(
        self,
        image: bytes,
        instruction: str,
        *,
        original_caption: str = "",
        strength: float = 0.5,
        on_event: Callable | None = None,
        **options,
    ) -> Generation:
        request = generation_pb2.EditImageRequest(
            image=generation_pb2.ImageInput(encoded=image),
            instruction=instruction,
            original_caption=original_caption,
            strength=strength,
        )
        return self._result(self._stream(request, **_knobs(options)), on_event)

    def inpaint(
        self,
        image: bytes,
        prompt: str,
        *,
        mask: bytes | None = None,
        num_images: int = 1,
        on_event: Callable | None = None,
        **options,
    ) -> Generation:
        """mask: PNG whose white pixels are redrawn; None uses the image's transparent pixels."""
        request = inpaint_request(image, prompt, mask=mask, num_images=num_images)
        return self._result(self._stream(request, **_knobs(options)), on_event)


_SHARED_OPTIONS = ("size", "seed", "stages", "timeout")


def _knobs(options: dict) -> dict:
    """size, seed, stages and timeout, each None when not given; anything else is a caller's typo."""
    unknown = set(options) - set(_SHARED_OPTIONS)
    if unknown:
        raise TypeError(f"unexpected option(s): {', '.join(sorted(unknown))}")
    return {name: options.get(name) for name in _SHARED_OPTIONS}


def _endpoint(source: bytes | str) -> generation_pb2.Endpoint:
    if isinstance(source, str):
        return generation_pb2.Endpoint(prompt=source)
    return generation_pb2.Endpoint(image=generation_pb2.ImageInput(encoded=source))
