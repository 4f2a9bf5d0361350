"""UpsamplerService: protos <-> UpsamplerModel calls, through the step batcher."""

import torch

from services.runtime.diffusion_rpc import DiffusionStage, check_rows, sampling_knobs
from services.runtime.errors import InvalidArgument, grpc_errors
from services.runtime.image_dtype import cast_images, check_image_dtype, to_float
from services.runtime.shared_memory import for_reply
from services.runtime.tensor_codec import from_proto, to_proto
from services.upsampler.model import UpsampleJob
from unclip.v1 import decoder_pb2, upsampler_pb2, upsampler_pb2_grpc

SCALE = 4  # every unCLIP super-resolution stage upsamples by 4 (64->256, 256->1024)


class UpsamplerServicer(upsampler_pb2_grpc.UpsamplerServiceServicer):
    def __init__(self, stage: DiffusionStage):
        self.stage = stage

    @grpc_errors
    async def UpsampleImage(self, request, context):
        model = self.stage.loaded_model()
        side = model.output_size // SCALE
        images = from_proto(
            request.images,
            "images",
            dtypes={torch.float32, torch.float16, torch.uint8},
            shape=(None, 3, side, side),
            shared=self.stage.shared,
        )
        check_rows(images.shape[0], "images")
        if images.shape[0] == 0:
            raise InvalidArgument("images", "must hold at least one image")
        knobs = sampling_knobs(request, model)
        noise_level = model.defaults.noise_level
        if request.HasField("noise_level"):
            noise_level = request.noise_level
            if not 0 <= noise_level < model.max_steps:
                raise InvalidArgument("noise_level", f"must be from 0 to {model.max_steps - 1}")
        check_image_dtype(request.output_dtype, "output_dtype")
        reply_memory = for_reply(self.stage.shared, context.invocation_metadata())
        trajectory = model.start(
            UpsampleJob(
                image=to_float(images),
                steps=knobs.steps,
                scheduler=knobs.scheduler,
                generator=knobs.generator,
                noise_level=noise_level,
                eta=knobs.eta,
            )
        )
        async for response in self.stage.stream(
            trajectory,
            upsampler_pb2.UpsampleImageResponse,
            lambda output, state: decoder_pb2.Images(
                images=to_proto(cast_images(output, request.output_dtype), reply_memory),
                generator_state=state,
            ),
        ):
            yield response
