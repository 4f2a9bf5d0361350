"""GenerationService: the public API, a thin layer over the chain."""

from services.orchestrator.chain import GenerationChain
from services.orchestrator.deadline import Deadline
from services.runtime.errors import grpc_errors
from unclip.v1 import generation_pb2, generation_pb2_grpc


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, chain: GenerationChain):
        self._chain = chain

    @grpc_errors
    async def GenerateImages(self, request, context):
        async for event in self._chain.generate(request, Deadline(context.time_remaining())):
            yield generation_pb2.GenerateImagesResponse(event=event)
