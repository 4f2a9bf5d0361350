"""GenerationService: the public API, a thin layer over the chain and the image flows."""

from collections.abc import AsyncIterator, Callable
from typing import TypeVar

from services.orchestrator.chain import GenerationChain
from services.orchestrator.deadline import Deadline
from services.orchestrator.flows import ImageFlows
from services.runtime.errors import grpc_errors
from services.telemetry.request_log import logged_request
from unclip.v1 import generation_pb2, generation_pb2_grpc

Request = TypeVar("Request")
Flow = Callable[[Request, Deadline], AsyncIterator[generation_pb2.GenerationEvent]]


def _streamed(
    name: str, flow: Callable[["GenerationServicer"], Flow[Request]], response_type: type
) -> Callable:
    """The RPC `name`: `flow`'s events for the request under the call's deadline, each in a
    `response_type`; errors mapped to statuses, one log line per call."""

    async def method(self, request, context):
        async for event in flow(self)(request, Deadline(context.time_remaining())):
            yield response_type(event=event)

    method.__name__ = method.__qualname__ = name
    return grpc_errors(logged_request(method))


class GenerationServicer(generation_pb2_grpc.GenerationServiceServicer):
    def __init__(self, chain: GenerationChain):
        self._chain = chain
        self._flows = ImageFlows(chain)

    GenerateImages = _streamed(
        "GenerateImages", lambda s: s._chain.generate, generation_pb2.GenerateImagesResponse
    )
    CreateVariations = _streamed(
        "CreateVariations", lambda s: s._flows.create_variations, generation_pb2.CreateVariationsResponse
    )
    InterpolateImages = _streamed(
        "InterpolateImages", lambda s: s._flows.interpolate_images, generation_pb2.InterpolateImagesResponse
    )
    EditImage = _streamed("EditImage", lambda s: s._flows.edit_image, generation_pb2.EditImageResponse)
    InpaintImage = _streamed(
        "InpaintImage", lambda s: s._flows.inpaint_image, generation_pb2.InpaintImageResponse
    )
