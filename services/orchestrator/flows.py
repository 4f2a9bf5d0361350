"""Image-driven flows of the unCLIP paper (section 3) over the same stages as text-to-image:
variations, interpolations, text-diff edits, and decoder-stage inpainting.

Each flow is a stream of GenerationEvents, like GenerateImages, built from GenerationChain's steps.
Images enter as PNG/JPEG (see input_images for the crop/resize rule); the decoder works at 64 px.
"""

import secrets
import time
from collections.abc import AsyncIterator

import torch

from services.cascade import conditioning_stages
from services.orchestrator.chain import Event, GenerationChain, StageOutcome, repeat_encoding
from services.orchestrator.deadline import Deadline
from services.orchestrator.embedding_math import slerp
from services.orchestrator.input_images import (
    as_stage_image,
    mask_tensor,
    open_image,
    repaint_mask,
    rgb_pixels,
)
from services.orchestrator.request_checks import check_count, check_prompt, check_stage_knobs
from services.runtime.errors import InvalidArgument
from services.runtime.image_dtype import quantize, to_float
from services.runtime.tensor_codec import from_proto, to_proto
from services.runtime.validation import eta_value
from services.stage_registry import sampled_stages, upsamplers
from unclip.v1 import (
    decoder_pb2,
    decoder_pb2_grpc,
    generation_pb2,
    sampling_pb2,
    text_encoder_pb2,
    text_encoder_pb2_grpc,
)

DECODER_SIDE = 64


def row_of(encoding: text_encoder_pb2.TextEncoding, row: int) -> text_encoder_pb2.TextEncoding:
    return text_encoder_pb2.TextEncoding(
        **{
            name: to_proto(from_proto(getattr(encoding, name), name)[row : row + 1])
            for name in ("text_embedding", "token_states", "attention_mask")
        }
    )


def _seed(request) -> int:
    return request.seed if request.HasField("seed") else secrets.randbits(63)


def _ddim(
    params: sampling_pb2.SamplingParams, eta: float | None = None, guidance: float | None = 1.0
) -> sampling_pb2.SamplingParams:
    """The decoder knobs for flows that start from inverted noise: DDIM (the sampler the inversion
    retraces; deterministic unless `eta` is given) and, unless the caller sets one, `guidance` (1 by
    default: the inversion ran unguided; None leaves it to the bundle)."""
    knobs = sampling_pb2.SamplingParams()
    knobs.CopyFrom(params)
    knobs.scheduler = sampling_pb2.SCHEDULER_DDIM
    if not knobs.HasField("guidance_scale") and guidance is not None:
        knobs.guidance_scale = guidance
    if eta is not None:
        knobs.eta = eta
    return knobs


class ImageFlows:
    def __init__(self, chain: GenerationChain):
        self._chain = chain
        self._limits = chain.limits

    async def _encode(
        self, prompts: list[str], images: list, deadline: Deadline, outcome: StageOutcome
    ) -> AsyncIterator[Event]:
        """One text encoder stage: the prompts' encodings (plus "") and each image's embedding [1, D].
        outcome.result = (EncodeTextResponse, [image embedding tensors])."""
        text = StageOutcome()
        async for event in self._chain.encode_text(prompts, deadline, text):
            if event.HasField("stage_finished"):
                started = time.monotonic()
                embeddings = [await self._encode_image(image, deadline) for image in images]
                event.stage_finished.seconds += time.monotonic() - started
            yield event
        outcome.result = (text.result, embeddings)

    async def _encode_image(self, image, deadline: Deadline) -> torch.Tensor:
        reply = await self._chain.call_unary(
            "text_encoder",
            "image",
            deadline,
            lambda channel, timeout: text_encoder_pb2_grpc.TextEncoderServiceStub(channel).EncodeImage(
                text_encoder_pb2.EncodeImageRequest(images=to_proto(rgb_pixels(image))), timeout=timeout
            ),
        )
        return from_proto(reply.image_embeddings, "text_encoder.image_embeddings")

    async def _invert(
        self,
        image,
        embedding: torch.Tensor,
        empty_text,
        params,
        seed: int,
        deadline: Deadline,
        outcome: StageOutcome,
    ) -> AsyncIterator[Event]:
        """DDIM-inverts one image under its own embedding; outcome.result = latents [1, 3, 64, 64].
        The inversion's start noise comes from the request's seed, so both images of an interpolation
        start from the same noise."""
        request = decoder_pb2.InvertImageRequest(
            images=to_proto(as_stage_image(image, DECODER_SIDE)),
            image_embeddings=to_proto(embedding),
            text=empty_text,
            random=sampling_pb2.RandomState(seed=seed),
        )
        if params.HasField("num_inference_steps"):
            request.num_inference_steps = params.num_inference_steps
        async for event in self._chain.run_diffusion_stage(
            "decoder",
            "decoder",
            deadline,
            outcome,
            lambda channel, timeout: decoder_pb2_grpc.DecoderServiceStub(channel).InvertImage(
                request, timeout=timeout
            ),
            preview=False,
        ):
            yield event
        outcome.result = from_proto(outcome.result, "decoder.latents")

    async def create_variations(
        self, request: generation_pb2.CreateVariationsRequest, deadline: Deadline
    ) -> AsyncIterator[Event]:
        """The image's CLIP embedding drives the decoder and upsamplers (no prior), with the empty
        prompt as text, as UnCLIPImageVariationPipeline does; variety comes from decoder noise: fresh
        noise from the seed, or with `eta` the paper's DDIM noise around the image's inverted noise."""
        image = open_image(request.image.encoded, "image.encoded")
        count = check_count(request.num_images, "num_images", 1, self._limits.max_images)
        check_stage_knobs(request, ("decoder", *upsamplers()), self._limits)
        if request.HasField("eta"):
            eta_value(request.eta, "eta")
        stages, seed = await self._chain.plan(request, conditioning_stages(prompted=False)), _seed(request)
        encoded = StageOutcome()
        async for event in self._encode([""], [image], deadline, encoded):
            yield event
        encoding, (embedding,) = encoded.result
        decode = decoder_pb2.DecodeImageRequest(
            image_embeddings=to_proto(embedding.repeat_interleave(count, 0)),
            text=repeat_encoding(encoding.prompts, count),
            unconditional=encoding.unconditional,
            sampling=request.decoder,
            random=sampling_pb2.RandomState(seed=seed),
        )
        if request.HasField("eta"):
            inverted = StageOutcome()
            async for event in self._invert(
                image, embedding, encoding.unconditional, request.decoder, seed, deadline, inverted
            ):
                yield event
            decode.sampling.CopyFrom(_ddim(request.decoder, request.eta))
            decode.latents.CopyFrom(to_proto(inverted.result.repeat(count, 1, 1, 1)))
        images = StageOutcome()
        async for event in self._chain.decode_and_upsample(decode, request, stages, deadline, images):
            yield event
        yield await self._chain.result_event(images, stages, seed)

    async def interpolate_images(
        self, request: generation_pb2.InterpolateImagesRequest, deadline: Deadline
    ) -> AsyncIterator[Event]:
        """A strip from `start` to `end`: CLIP image embeddings interpolated spherically, decoder noise
        held fixed (DDIM-inverted from the input images, interpolated likewise when both are images)."""
        endpoints = (request.start, request.end)
        for name, endpoint in zip(("start", "end"), endpoints, strict=True):
            if endpoint.WhichOneof("source") is None:
                raise InvalidArgument(name, "must be an image or a prompt")
            if endpoint.HasField("prompt"):
                check_prompt(endpoint.prompt, f"{name}.prompt", self._limits)
        images = [
            open_image(e.image.encoded, f"{n}.image.encoded") if e.HasField("image") else None
            for n, e in zip(("start", "end"), endpoints, strict=True)
        ]
        count = check_count(request.num_images, "num_images", 2, self._limits.max_images)
        check_stage_knobs(request, sampled_stages(), self._limits)
        prompts = [e.prompt for e in endpoints if e.HasField("prompt")]
        stages = await self._chain.plan(request, conditioning_stages(prompted=bool(prompts)))
        seed = _seed(request)
        encoded = StageOutcome()
        async for event in self._encode(
            prompts or [""], [i for i in images if i is not None], deadline, encoded
        ):
            yield event
        encoding, image_embeddings = encoded.result
        empty = encoding.unconditional
        embeddings, latents, prompt_row = [], [], 0
        for image in images:
            if image is None:
                prior = StageOutcome()
                async for event in self._chain.run_prior(
                    row_of(encoding.prompts, prompt_row), empty, request.prior, seed, deadline, prior
                ):
                    yield event
                embeddings.append(from_proto(prior.result.image_embeddings, "prior.image_embeddings"))
                prompt_row += 1
            else:
                embedding = image_embeddings.pop(0)
                inverted = StageOutcome()
                async for event in self._invert(
                    image, embedding, empty, request.decoder, seed, deadline, inverted
                ):
                    yield event
                embeddings.append(embedding)
                latents.append(inverted.result)
        fractions = torch.linspace(0, 1, count)
        strip = slerp(embeddings[0], embeddings[1], fractions)
        if len(latents) == 2:
            noise = slerp(latents[0].flatten(1), latents[1].flatten(1), fractions).reshape(
                count, 3, DECODER_SIDE, DECODER_SIDE
            )
        elif latents:
            noise = latents[0].repeat(count, 1, 1, 1)
        else:
            generator = torch.Generator().manual_seed(seed)
            noise = torch.randn(1, 3, DECODER_SIDE, DECODER_SIDE, generator=generator).repeat(count, 1, 1, 1)
        images_out = StageOutcome()
        decode = decoder_pb2.DecodeImageRequest(
            image_embeddings=to_proto(strip),
            text=repeat_encoding(empty, count),
            unconditional=empty,
            sampling=_ddim(request.decoder) if latents else request.decoder,
            random=sampling_pb2.RandomState(seed=seed),
            latents=to_proto(noise),
        )
        async for event in self._chain.decode_and_upsample(decode, request, stages, deadline, images_out):
            yield event
        yield await self._chain.result_event(images_out, stages, seed)

    async def edit_image(
        self, request: generation_pb2.EditImageRequest, deadline: Deadline
    ) -> AsyncIterator[Event]:
        """The paper's text diffs: invert the image to decoder noise under its own embedding, move the
        embedding towards normalise(text(instruction) - text(caption)) by slerp, decode from that noise
        with the instruction as the decoder's caption, guided as the caller or the bundle says."""
        image = open_image(request.image.encoded, "image.encoded")
        check_prompt(request.instruction, "instruction", self._limits)
        check_prompt(request.original_caption, "original_caption", self._limits, required=False)
        strength = request.strength or 0.5
        if not 0 < strength <= 1:
            raise InvalidArgument("strength", "must be in (0, 1]")
        check_stage_knobs(request, ("decoder", *upsamplers()), self._limits)
        stages, seed = await self._chain.plan(request, conditioning_stages(prompted=False)), _seed(request)
        encoded = StageOutcome()
        async for event in self._encode(
            [request.original_caption, request.instruction], [image], deadline, encoded
        ):
            yield event
        encoding, (embedding,) = encoded.result
        texts = from_proto(encoding.prompts.text_embedding, "text_encoder.text_embedding")
        difference = texts[1:2] - texts[0:1]
        if difference.norm() == 0:
            raise InvalidArgument("instruction", "must differ from original_caption")
        direction = difference / difference.norm() * embedding.norm()
        target = slerp(embedding, direction, torch.tensor([strength]))
        inverted = StageOutcome()
        async for event in self._invert(
            image, embedding, encoding.unconditional, request.decoder, seed, deadline, inverted
        ):
            yield event
        images = StageOutcome()
        decode = decoder_pb2.DecodeImageRequest(
            image_embeddings=to_proto(target),
            text=row_of(encoding.prompts, 1),
            unconditional=encoding.unconditional,
            sampling=_ddim(request.decoder, guidance=None),
            random=sampling_pb2.RandomState(seed=seed),
            latents=to_proto(inverted.result),
        )
        async for event in self._chain.decode_and_upsample(decode, request, stages, deadline, images):
            yield event
        yield await self._chain.result_event(images, stages, seed)

    async def inpaint_image(
        self, request: generation_pb2.InpaintImageRequest, deadline: Deadline
    ) -> AsyncIterator[Event]:
        """Prompt -> prior embedding; the decoder redraws the masked region and re-imposes the known one
        at every step; after upsampling, the unmasked pixels are the input's, exactly."""
        image = open_image(request.image.encoded, "image.encoded")
        mask = open_image(request.mask.encoded, "mask.encoded") if request.mask.encoded else None
        marks = repaint_mask(image, mask, "mask")
        check_prompt(request.prompt, "prompt", self._limits)
        count = check_count(request.num_images, "num_images", 1, self._limits.max_images)
        check_stage_knobs(request, sampled_stages(), self._limits)
        stages, seed = await self._chain.plan(request, conditioning_stages()), _seed(request)
        encoded = StageOutcome()
        async for event in self._chain.encode_text([request.prompt], deadline, encoded):
            yield event
        text = repeat_encoding(encoded.result.prompts, count)
        prior = StageOutcome()
        async for event in self._chain.run_prior(
            text, encoded.result.unconditional, request.prior, seed, deadline, prior
        ):
            yield event
        decode = decoder_pb2.DecodeImageRequest(
            image_embeddings=prior.result.image_embeddings,
            text=text,
            unconditional=encoded.result.unconditional,
            sampling=request.decoder,
            random=sampling_pb2.RandomState(generator_state=prior.result.generator_state),
            inpainting=decoder_pb2.Inpainting(
                image=to_proto(as_stage_image(image, DECODER_SIDE).repeat(count, 1, 1, 1)),
                repaint_mask=to_proto(mask_tensor(marks, DECODER_SIDE).repeat(count, 1, 1, 1)),
            ),
        )
        images = StageOutcome()
        async for event in self._chain.decode_and_upsample(decode, request, stages, deadline, images):
            yield event

        def keep_unmasked(drawn: torch.Tensor) -> torch.Tensor:
            side = drawn.shape[-1]
            known = quantize(as_stage_image(image, side))
            keep = 1 - mask_tensor(marks, side)
            drawn = drawn if drawn.dtype == torch.uint8 else quantize(to_float(drawn))
            return (keep * known + (1 - keep) * drawn).round().to(torch.uint8)

        yield await self._chain.result_event(images, stages, seed, finish=keep_unmasked)
