"""The generation chain: text encoder -> prior -> decoder -> upsamplers, as a stream of events.

Noise for the whole request comes from one torch generator, as in diffusers' UnCLIPPipeline: the
prior seeds it from the request's seed and every later stage resumes the state the previous stage
returned, so the same request with the same seed gives the same images.
"""

import asyncio
import secrets
import time
from asyncio import to_thread
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import torch

from services import stage_registry
from services.cascade import conditioning_stages, hop_dtype
from services.orchestrator.deadline import Deadline
from services.orchestrator.images import preview_png, to_pngs
from services.orchestrator.request_checks import RequestLimits, check_generate, image_stages
from services.orchestrator.stage_clients import MeshClients, StageClient
from services.orchestrator.stage_errors import from_stage_failure
from services.runtime.shared_memory import METADATA_KEY, SharedMemory, inline
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import (
    decoder_pb2,
    decoder_pb2_grpc,
    generation_pb2,
    prior_pb2,
    prior_pb2_grpc,
    sampling_pb2,
    text_encoder_pb2,
    text_encoder_pb2_grpc,
    upsampler_pb2,
    upsampler_pb2_grpc,
)

Event = generation_pb2.GenerationEvent
RETRY_BACKOFF_SECONDS = (0.2, 0.8, 2.0)


@dataclass
class StageOutcome:
    """Filled in by a stage call once its stream ends: `result` is that stage's response (its message
    type differs from stage to stage)."""

    result: Any = None
    seconds: float = 0.0


def repeat_encoding(encoding: text_encoder_pb2.TextEncoding, n: int) -> text_encoder_pb2.TextEncoding:
    """One row per image to draw, as the reference's repeat_interleave(num_images_per_prompt)."""
    if n == 1:
        return encoding
    return text_encoder_pb2.TextEncoding(
        **{
            name: to_proto(
                from_proto(getattr(encoding, name), f"text_encoder.{name}").repeat_interleave(n, 0)
            )
            for name in ("text_embedding", "token_states", "attention_mask")
        }
    )


class GenerationChain:
    """Chains the stage services for one request; handed its clients (no globals)."""

    def __init__(self, clients: MeshClients, limits: RequestLimits, shared: SharedMemory | None = None):
        self._clients = clients
        self.limits = limits
        self._shared = shared
        # Upsamplers that see this marker in their own shared memory reply through it.
        self._upsample_metadata = ((METADATA_KEY, shared.marker()),) if shared else ()

    def served_stages(self) -> set[str]:
        return {stage for stage in stage_registry.model_stages() if self._clients.has(stage)}

    async def plan(self, request, inputs: tuple[str, ...]) -> tuple[str, ...]:
        """The request's image stages (image_stages; `inputs`: the stages its flow calls before the
        decoder), once each stage it needs has a reachable replica: a request that cannot finish
        fails before any work, naming the stage."""
        stages = image_stages(request, inputs, self.served_stages())
        await self._clients.require((*inputs, *stages))
        return stages

    async def generate(
        self, request: generation_pb2.GenerateImagesRequest, deadline: Deadline
    ) -> AsyncIterator[Event]:
        check_generate(request, self.limits)
        stages = await self.plan(request, conditioning_stages())
        count = request.num_images or 1
        seed = request.seed if request.HasField("seed") else secrets.randbits(63)

        encoding = StageOutcome()
        async for event in self.encode_text([request.prompt], deadline, encoding):
            yield event
        text = repeat_encoding(encoding.result.prompts, count)
        unconditional = encoding.result.unconditional

        prior = StageOutcome()
        async for event in self.run_prior(text, unconditional, request.prior, seed, deadline, prior):
            yield event

        images = StageOutcome()
        decode = decoder_pb2.DecodeImageRequest(
            image_embeddings=prior.result.image_embeddings,
            text=text,
            unconditional=unconditional,
            sampling=request.decoder,
            random=sampling_pb2.RandomState(generator_state=prior.result.generator_state),
        )
        async for event in self.decode_and_upsample(decode, request, stages, deadline, images):
            yield event
        yield await self.result_event(images, stages, seed)

    async def encode_text(
        self, prompts: list[str], deadline: Deadline, outcome: StageOutcome
    ) -> AsyncIterator[Event]:
        """The text encoder stage as events; its EncodeTextResponse lands in `outcome`."""
        yield Event(stage_started=generation_pb2.StageStarted(stage=generation_pb2.STAGE_TEXT_ENCODER))
        started = time.monotonic()
        outcome.result = await self.call_unary(
            "text_encoder",
            "prompt",
            deadline,
            lambda channel, timeout: text_encoder_pb2_grpc.TextEncoderServiceStub(channel).EncodeText(
                text_encoder_pb2.EncodeTextRequest(prompts=prompts), timeout=timeout
            ),
        )
        outcome.seconds = time.monotonic() - started
        yield self.finished_event("text_encoder", outcome.seconds)

    async def run_prior(
        self,
        text: text_encoder_pb2.TextEncoding,
        unconditional: text_encoder_pb2.TextEncoding,
        params: sampling_pb2.SamplingParams,
        seed: int,
        deadline: Deadline,
        outcome: StageOutcome,
    ) -> AsyncIterator[Event]:
        """The prior seeded with `seed` (the first draw of the request's noise stream)."""
        request = prior_pb2.GenerateImageEmbeddingRequest(
            text=text,
            unconditional=unconditional,
            sampling=params,
            random=sampling_pb2.RandomState(seed=seed),
        )
        async for event in self.run_diffusion_stage(
            "prior",
            "prior",
            deadline,
            outcome,
            lambda channel, timeout: prior_pb2_grpc.PriorServiceStub(channel).GenerateImageEmbedding(
                request, timeout=timeout
            ),
            preview=False,
        ):
            yield event

    async def decode_and_upsample(
        self,
        decode: decoder_pb2.DecodeImageRequest,
        knobs,
        stages: tuple[str, ...],
        deadline: Deadline,
        images: StageOutcome,
    ) -> AsyncIterator[Event]:
        """The decoder, then the upsamplers of `stages` (image_stages), each resuming the previous
        generator state; `knobs` holds the upsamplers' SamplingParams; `images.result` ends as the last
        stage's Images."""
        decode.output_dtype = hop_dtype("decoder", stages)
        async for event in self.run_diffusion_stage(
            "decoder",
            "decoder",
            deadline,
            images,
            lambda channel, timeout: decoder_pb2_grpc.DecoderServiceStub(channel).DecodeImage(
                decode, timeout=timeout
            ),
        ):
            yield event
        for stage in stages[1:]:
            low = images.result
            upsample = upsampler_pb2.UpsampleImageRequest(
                images=low.images,
                sampling=getattr(knobs, stage),
                random=sampling_pb2.RandomState(generator_state=low.generator_state),
                output_dtype=hop_dtype(stage, stages),
            )
            async for event in self.run_diffusion_stage(
                stage,
                stage,
                deadline,
                images,
                lambda channel, timeout, upsample=upsample: upsampler_pb2_grpc.UpsamplerServiceStub(
                    channel
                ).UpsampleImage(upsample, timeout=timeout, metadata=self._upsample_metadata),
            ):
                yield event

    @staticmethod
    async def result_event(
        images: StageOutcome,
        stages: tuple[str, ...],
        seed: int,
        finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
    ) -> Event:
        """The final event: the last stage's images as PNGs (after `finish`, e.g. a composite).

        Encoded on a worker thread, as the previews are: a 256 px PNG takes 10-40 ms of CPU, which on
        the event loop would hold up every other call, refusals of an overload among them."""

        def encode() -> tuple[int, list[bytes]]:
            final = from_proto(images.result.images, f"{stages[-1]}.images")
            if finish is not None:
                final = finish(final)
            return final.shape[-1], to_pngs(final)

        size, pngs = await to_thread(encode)
        return Event(result=generation_pb2.GeneratedImages(png_images=pngs, seed=seed, size=size))

    def finished_event(self, stage: str, seconds: float, preview: bytes = b"") -> Event:
        return Event(
            stage_finished=generation_pb2.StageFinished(
                stage=stage_registry.get(stage).enum, seconds=seconds, preview_png=preview
            )
        )

    async def call_unary(self, stage: str, field_name: str, deadline: Deadline, call: Callable):
        client = self._clients.get(stage)
        channel = None
        for attempt in range(len(RETRY_BACKOFF_SECONDS) + 1):
            channel = client.channel(avoid=channel)
            try:
                return await call(channel, deadline.remaining(stage))
            except grpc.aio.AioRpcError as error:
                await self._before_retry(client, field_name, deadline, error, attempt)

    @staticmethod
    async def _before_retry(
        client: StageClient, field_name: str, deadline: Deadline, error: grpc.aio.AioRpcError, attempt: int
    ) -> None:
        """Raises the caller's error unless the failure is worth another attempt (UNAVAILABLE: a replica
        down, restarting or draining, while some replica can still be reached; the next attempt goes
        to the next replica), then backs off.

        Stage calls are replayable (all their randomness comes from the request), so a whole call is
        retried; grpc's own retries are off because they stop beyond a 256 KB retry buffer."""
        stage = client.stage
        if (
            error.code() != grpc.StatusCode.UNAVAILABLE
            or attempt == len(RETRY_BACKOFF_SECONDS)
            or not await client.reachable()
        ):
            raise from_stage_failure(stage, field_name, error) from None
        pause = RETRY_BACKOFF_SECONDS[attempt]
        left = deadline.remaining(stage)
        if left is not None and left <= pause:
            raise from_stage_failure(stage, field_name, error) from None
        await asyncio.sleep(pause)

    async def run_diffusion_stage(
        self,
        stage: str,
        field_name: str,
        deadline: Deadline,
        outcome: StageOutcome,
        call: Callable,
        preview: bool = True,
    ) -> AsyncIterator[Event]:
        """Streams a diffusion stage's progress as events; its result lands in `outcome`.
        With `preview`, the result is Images and the finished event carries a PNG of the first."""
        stage_enum = stage_registry.get(stage).enum
        yield Event(stage_started=generation_pb2.StageStarted(stage=stage_enum))
        started = time.monotonic()
        client = self._clients.get(stage)
        channel = None
        for attempt in range(len(RETRY_BACKOFF_SECONDS) + 1):
            channel = client.channel(avoid=channel)
            try:
                async for response in call(channel, deadline.remaining(stage)):
                    if response.HasField("progress"):
                        yield Event(
                            step_progress=generation_pb2.StageStep(
                                stage=stage_enum, progress=response.progress
                            )
                        )
                    else:
                        outcome.result = response.result
                break
            except grpc.aio.AioRpcError as error:
                await self._before_retry(client, field_name, deadline, error, attempt)
        if outcome.result is None:
            raise from_stage_failure(stage, field_name, _EndedWithoutResult())
        if preview:
            inline(outcome.result.images, self._shared, f"{stage}.images")
        outcome.seconds = time.monotonic() - started
        png = b""
        if preview:  # on a worker thread, as result_event's PNGs
            images = outcome.result.images
            png = await to_thread(lambda: preview_png(from_proto(images, f"{stage}.images")))
        yield self.finished_event(stage, outcome.seconds, png)


class _EndedWithoutResult(grpc.aio.AioRpcError):
    """A stage stream that closed OK but sent no result: treated as the stage being unavailable."""

    def __init__(self):
        super().__init__(
            grpc.StatusCode.UNAVAILABLE,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            details="stream ended without a result",
        )
