"""The gateway's calls to the orchestrator: an API request's images, at the API's size.

The API allows n up to 10 and the mesh 8 a request, so a larger n is drawn by concurrent requests
of at most 8; if one fails, the others are cancelled. The per-stage step counts come from the
gateway's settings (the API has no such knobs).
"""

import asyncio
from collections.abc import Callable, Mapping, Sequence

import grpc

from services.gateway.errors import from_rpc_error
from services.gateway.params import Ask
from services.gateway.sizes import SIZES, fit
from unclip_mesh.client.aio import AsyncGenerationClient
from unclip_mesh.client.sdk import Generation, Sampling, with_knobs

MESH_MAX_IMAGES = 8  # the orchestrator's num_images limit


def batches(n: int, largest: int = MESH_MAX_IMAGES) -> list[int]:
    """n images as request sizes of at most `largest`: 10 -> [8, 2]."""
    return [min(largest, n - start) for start in range(0, n, largest)]


class MeshImages:
    def __init__(self, client: AsyncGenerationClient, steps: Mapping[str, int]):
        self._client = client
        self._steps = dict(steps)

    async def draw(
        self, build: Callable[[int], object], ask: Ask, *, timeout: float, metadata: Sequence[tuple[str, str]]
    ) -> list[bytes]:
        """PNGs of the asked size: build(count) makes one mesh request message for count images."""
        mesh_size, side = SIZES[ask.size]
        requests = [self._with_knobs(build(count), mesh_size) for count in batches(ask.n)]
        try:
            generations = await _all(
                self._client.run(r, timeout=timeout, metadata=metadata) for r in requests
            )
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from None
        pngs = [png for generation in generations for png in generation.png_images]
        return await asyncio.to_thread(lambda: [fit(png, side) for png in pngs])

    def _with_knobs(self, request, mesh_size: int):
        fields = request.DESCRIPTOR.fields_by_name
        stages = {stage: Sampling(steps=steps) for stage, steps in self._steps.items() if stage in fields}
        return with_knobs(request, size=mesh_size, stages=stages)


async def _all(calls) -> list[Generation]:
    """Runs the calls together; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(call) for call in calls]
    except ExceptionGroup as failed:
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
