"""DecoderService: protos <-> DecoderModel calls, through the step batcher."""

import torch

from services.decoder.model import DecoderJob
from services.runtime.diffusion_rpc import DiffusionStage, check_rows, sampling_knobs
from services.runtime.errors import grpc_errors
from services.runtime.image_dtype import cast_images, check_image_dtype
from services.runtime.tensor_codec import from_proto, to_proto
from services.text_encoder.wire import from_wire
from unclip.v1 import decoder_pb2, decoder_pb2_grpc


class DecoderServicer(decoder_pb2_grpc.DecoderServiceServicer):
    def __init__(self, stage: DiffusionStage):
        self.stage = stage

    @grpc_errors
    async def DecodeImage(self, request, context):
        model = self.stage.loaded_model()
        text_proj = model.text_proj
        embeddings = from_proto(request.image_embeddings, "image_embeddings",
                                dtypes={torch.float32, torch.float16},
                                shape=(None, text_proj.embedding_proj.in_features)).float()
        rows = embeddings.shape[0]
        check_rows(rows, "image_embeddings")
        widths = dict(embedding_dim=text_proj.embedding_proj.in_features,
                      token_width=text_proj.encoder_hidden_states_proj.in_features)
        text = from_wire(request.text, "text", rows=rows, **widths)
        unconditional = from_wire(request.unconditional, "unconditional", rows=1,
                                  length=text.token_states.shape[1], **widths)
        knobs = sampling_knobs(request, model)
        check_image_dtype(request.output_dtype, "output_dtype")
        trajectory = model.start(DecoderJob(
            image_embedding=embeddings, text=text, unconditional=unconditional, steps=knobs.steps,
            guidance_scale=knobs.guidance_scale, scheduler=knobs.scheduler, generator=knobs.generator))
        async for response in self.stage.stream(
                trajectory, decoder_pb2.DecodeImageResponse,
                lambda output, state: decoder_pb2.Images(
                    images=to_proto(cast_images(output, request.output_dtype)),
                    generator_state=state)):
            yield response
