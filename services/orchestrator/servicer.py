"""GenerationService: the public API, a thin layer over the chain and the image flows."""

from services.orchestrator.chain import GenerationChain
from services.orchestrator.deadline import Deadline
from services.orchestrator.flows import ImageFlows
from services.runtime.errors import grpc_errors
from services.telemetry.request_log import logged_request
from unclip.v1 import generation_pb2, generation_pb2_grpc


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, chain: GenerationChain):
        self._chain = chain
        self._flows = ImageFlows(chain)

    @grpc_errors
    @logged_request
    async def GenerateImages(self, request, context):
        async for event in self._chain.generate(request, Deadline(context.time_remaining())):
            yield generation_pb2.GenerateImagesResponse(event=event)

    @grpc_errors
    @logged_request
    async def CreateVariations(self, request, context):
        async for event in self._flows.create_variations(request, Deadline(context.time_remaining())):
            yield generation_pb2.CreateVariationsResponse(event=event)

    @grpc_errors
    @logged_request
    async def InterpolateImages(self, request, context):
        async for event in self._flows.interpolate_images(request, Deadline(context.time_remaining())):
            yield generation_pb2.InterpolateImagesResponse(event=event)

    @grpc_errors
    @logged_request
    async def EditImage(self, request, context):
        async for event in self._flows.edit_image(request, Deadline(context.time_remaining())):
            yield generation_pb2.EditImageResponse(event=event)

    @grpc_errors
    @logged_request
    async def InpaintImage(self, request, context):
        async for event in self._flows.inpaint_image(request, Deadline(context.time_remaining())):
            yield generation_pb2.InpaintImageResponse(event=event)
