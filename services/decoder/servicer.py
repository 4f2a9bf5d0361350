"""DecoderService: protos <-> DecoderModel calls, through the step batcher."""

import torch

from services.decoder.inpainting import InpaintingTrajectory
from services.decoder.inversion import DecoderInversion, InversionJob
from services.decoder.model import DecoderJob
from services.runtime import validation
from services.runtime.diffusion_rpc import DiffusionStage, check_rows, sampling_knobs
from services.runtime.errors import InvalidArgument, grpc_errors
from services.runtime.image_dtype import cast_images, check_image_dtype
from services.runtime.tensor_codec import from_proto, to_proto
from services.text_encoder.wire import from_wire
from unclip.v1 import decoder_pb2, decoder_pb2_grpc, sampling_pb2

_FLOATS = {torch.float32, torch.float16}


class DecoderServicer(decoder_pb2_grpc.DecoderServiceServicer):
    def __init__(self, stage: DiffusionStage):
        self.stage = stage
        self._inversion = None  # (DecoderInversion, its StepBatcher), made on first use

    def _embeddings_and_text(self, request, model):
        widths = model.text_widths
        embeddings = from_proto(
            request.image_embeddings,
            "image_embeddings",
            dtypes=_FLOATS,
            shape=(None, widths["embedding_dim"]),
        ).float()
        rows = embeddings.shape[0]
        check_rows(rows, "image_embeddings")
        if rows == 0:
            raise InvalidArgument("image_embeddings", "must have at least one row")
        text = from_wire(request.text, "text", rows=rows, **widths)
        return embeddings, text, widths

    @staticmethod
    def _images(message, field: str, rows: int, channels: int, side: int) -> torch.Tensor:
        return from_proto(message, field, dtypes={torch.float32}, shape=(rows, channels, side, side))

    @grpc_errors
    async def DecodeImage(self, request, context):
        model = self.stage.loaded_model()
        embeddings, text, widths = self._embeddings_and_text(request, model)
        rows, side = embeddings.shape[0], model.image_size
        unconditional = from_wire(
            request.unconditional, "unconditional", rows=1, length=text.token_states.shape[1], **widths
        )
        knobs = sampling_knobs(request, model)
        check_image_dtype(request.output_dtype, "output_dtype")
        latents = None
        if request.HasField("latents"):
            latents = self._images(request.latents, "latents", rows, 3, side)
        trajectory = model.start(
            DecoderJob(
                image_embedding=embeddings,
                text=text,
                unconditional=unconditional,
                steps=knobs.steps,
                guidance_scale=knobs.guidance_scale,
                scheduler=knobs.scheduler,
                generator=knobs.generator,
                latents=latents,
                eta=knobs.eta,
            )
        )
        if request.HasField("inpainting"):
            known = self._images(request.inpainting.image, "inpainting.image", rows, 3, side)
            mask = self._images(request.inpainting.repaint_mask, "inpainting.repaint_mask", rows, 1, side)
            trajectory = InpaintingTrajectory.wrap(trajectory, known.clamp(-1, 1), mask.clamp(0, 1))
        async for response in self.stage.stream(
            trajectory,
            decoder_pb2.DecodeImageResponse,
            lambda output, state: decoder_pb2.Images(
                images=to_proto(cast_images(output, request.output_dtype)), generator_state=state
            ),
        ):
            yield response

    @grpc_errors
    async def InvertImage(self, request, context):
        model = self.stage.loaded_model()
        embeddings, text, _ = self._embeddings_and_text(request, model)
        images = self._images(request.images, "images", embeddings.shape[0], 3, model.image_size)
        params = sampling_pb2.SamplingParams()
        if request.HasField("num_inference_steps"):
            params.num_inference_steps = request.num_inference_steps
        steps = validation.num_inference_steps(
            params, "num_inference_steps", model.defaults.num_inference_steps, model.max_steps
        )
        if self._inversion is None:
            inversion = DecoderInversion(model)
            self._inversion = inversion, self.stage.new_batcher(inversion)
        inversion, batcher = self._inversion
        generator = (
            validation.random_state(request.random, "random")
            if request.HasField("random")
            else torch.Generator().manual_seed(0)
        )
        trajectory = inversion.start(InversionJob(images.clamp(-1, 1), embeddings, text, steps, generator))
        async for response in self.stage.stream(
            trajectory,
            decoder_pb2.InvertImageResponse,
            lambda output, state: to_proto(output),
            batcher=batcher,
        ):
            yield response
