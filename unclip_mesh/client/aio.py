"""An asyncio client of GenerationService, for servers that call the mesh (the HTTP gateway).

Requests are built with the SDK's builders (unclip_mesh/client/sdk.py). Each call takes its own
metadata (the caller's token, trace context) and deadline, and a call whose awaiting task is
cancelled is cancelled on the wire too, so the mesh stops working for a caller that went away.
"""

from collections.abc import Sequence

import grpc

from unclip.v1 import generation_pb2_grpc
from unclip_mesh.client.sdk import Generation, generation_of, rpc_name


class AsyncGenerationClient:
    def __init__(
        self, target: str, *, credentials: grpc.ChannelCredentials | None = None, max_message_mb: int = 64
    ):
        options = [
            ("grpc.max_receive_message_length", max_message_mb * 1024 * 1024),
            ("grpc.max_send_message_length", max_message_mb * 1024 * 1024),
        ]
        self.channel = (
            grpc.aio.secure_channel(target, credentials, options=options)
            if credentials
            else grpc.aio.insecure_channel(target, options=options)
        )
        self._stub = generation_pb2_grpc.GenerationServiceStub(self.channel)

    async def close(self) -> None:
        await self.channel.close()

    async def run(
        self, request, *, timeout: float | None, metadata: Sequence[tuple[str, str]] = ()
    ) -> Generation:
        """Streams the request's RPC to its result; grpc.aio.AioRpcError when the call fails."""
        call = getattr(self._stub, rpc_name(request))(request, timeout=timeout, metadata=tuple(metadata))
        result = None
        try:
            async for response in call:  # read to the end: the result is the last event
                result = generation_of(response.event) or result
        except BaseException:
            call.cancel()  # our task was cancelled (the caller went away): so is the mesh's work
            raise
        if result is None:
            raise RuntimeError("the stream ended without a result")
        return result
