"""Response streams written by the call's own task, so a cancelled call closes its generators there.

grpc.aio iterates an async-generator handler and writes each response; a call cancelled while that
write is pending leaves the generator chain suspended at a `yield`, and the event loop closes it later
in a task of its own. Generators that attached a tracing context (the OpenTelemetry server interceptor,
a stage's spans) then detach it in the wrong context and log an error. This interceptor, the outermost,
turns each response-streaming handler into a coroutine that writes the responses itself and closes the
chain in the call's task however the call ends.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import aclosing

import grpc


def _written(stream: Callable) -> Callable:
    async def write_all(request, context) -> None:
        responses = stream(request, context)
        if not inspect.isasyncgen(responses):
            await responses  # already a coroutine that writes its responses
            return
        async with aclosing(responses):
            async for response in responses:
                await context.write(response)

    return write_all


class StreamWriter(grpc.aio.ServerInterceptor):
    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or not handler.response_streaming:
            return handler
        options = {
            "request_deserializer": handler.request_deserializer,
            "response_serializer": handler.response_serializer,
        }
        if handler.request_streaming:
            return grpc.stream_stream_rpc_method_handler(_written(handler.stream_stream), **options)
        return grpc.unary_stream_rpc_method_handler(_written(handler.unary_stream), **options)
