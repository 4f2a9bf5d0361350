"""PriorService: protos <-> PriorModel calls, through the step batcher."""

from services.diffusion.text import TextTensors
from services.prior.model import PriorJob
from services.runtime.diffusion_rpc import DiffusionStage, check_rows, sampling_knobs
from services.runtime.errors import grpc_errors
from services.runtime.tensor_codec import to_proto
from services.text_encoder.wire import from_wire
from unclip.v1 import prior_pb2, prior_pb2_grpc


def read_text(request, model) -> tuple[TextTensors, TextTensors]:
    """The conditional rows and the 1-row unconditional encoding, checked against the prior's widths."""
    widths = model.text_widths
    text = from_wire(request.text, "text", **widths)
    unconditional = from_wire(request.unconditional, "unconditional", rows=1, **widths)
    return text, unconditional


class PriorServicer(prior_pb2_grpc.PriorServiceServicer):
    def __init__(self, stage: DiffusionStage):
        self.stage = stage

    @grpc_errors
    async def GenerateImageEmbedding(self, request, context):
        model = self.stage.loaded_model()
        text, unconditional = read_text(request, model)
        check_rows(len(text), "text")
        knobs = sampling_knobs(request, model)
        trajectory = model.start(
            PriorJob(
                text=text,
                unconditional=unconditional,
                steps=knobs.steps,
                guidance_scale=knobs.guidance_scale,
                scheduler=knobs.scheduler,
                generator=knobs.generator,
                eta=knobs.eta,
            )
        )
        async for response in self.stage.stream(
            trajectory,
            prior_pb2.GenerateImageEmbeddingResponse,
            lambda output, state: prior_pb2.ImageEmbeddings(
                image_embeddings=to_proto(output), generator_state=state
            ),
        ):
            yield response
