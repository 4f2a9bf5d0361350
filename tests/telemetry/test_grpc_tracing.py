"""The server interceptor and the stage-call client interceptors together, in one process."""

import asyncio

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from opentelemetry import trace
from opentelemetry.trace import SpanKind

from services.telemetry.grpc_tracing import server_tracing_interceptor, stage_call_interceptors
from services.telemetry.metrics import REGISTRY
from services.telemetry.tracing import tracer


async def check(request, context):
    return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


async def watch(request, context):
    """Two messages, then an abort when request.service == "fail"."""
    with tracer().start_as_current_span("inside"):
        for _ in range(2):
            yield health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)
    if request.service == "fail":
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "bad")


_MESSAGES = {
    "request_deserializer": health_pb2.HealthCheckRequest.FromString,
    "response_serializer": health_pb2.HealthCheckResponse.SerializeToString,
}
_HOP = grpc.method_handlers_generic_handler(
    "test.Hop",
    {
        "Check": grpc.unary_unary_rpc_method_handler(check, **_MESSAGES),
        "Watch": grpc.unary_stream_rpc_method_handler(watch, **_MESSAGES),
    },
)


async def _calls() -> None:
    server = grpc.aio.server(interceptors=[server_tracing_interceptor()])
    server.add_generic_rpc_handlers([_HOP])
    health_pb2_grpc.add_HealthServicer_to_server(health.aio.HealthServicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    address = f"127.0.0.1:{port}"
    messages = {
        "request_serializer": health_pb2.HealthCheckRequest.SerializeToString,
        "response_deserializer": health_pb2.HealthCheckResponse.FromString,
    }
    async with grpc.aio.insecure_channel(
        address, interceptors=stage_call_interceptors("test_hop", address)
    ) as channel:
        unary = channel.unary_unary("/test.Hop/Check", **messages)
        streaming = channel.unary_stream("/test.Hop/Watch", **messages)
        with tracer().start_as_current_span("request"):
            await unary(health_pb2.HealthCheckRequest())
            assert len([r async for r in streaming(health_pb2.HealthCheckRequest())]) == 2
            try:
                async for _ in streaming(health_pb2.HealthCheckRequest(service="fail")):
                    pass
            except grpc.aio.AioRpcError as error:
                assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
            await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    await asyncio.sleep(0.1)  # the client spans end in done callbacks
    await server.stop(None)


def test_unary_and_streaming_calls_carry_the_context_and_are_timed_by_stage(spans):
    asyncio.run(_calls())
    finished = spans.get_finished_spans()
    clients = [s for s in finished if s.kind == SpanKind.CLIENT]
    assert [s.name for s in clients] == [
        "test_hop Check",
        "test_hop Watch",
        "test_hop Watch",
        "test_hop Check",
    ]
    assert all(s.attributes["unclip.stage"] == "test_hop" for s in clients)
    assert clients[2].status.status_code == trace.StatusCode.ERROR
    servers = [s for s in finished if s.kind == SpanKind.SERVER]  # none for the health probe
    assert [s.parent.span_id for s in servers] == [c.context.span_id for c in clients[:3]]
    inside = [s for s in finished if s.name == "inside"]
    assert [s.parent.span_id for s in inside] == [s.context.span_id for s in servers[1:]]
    assert (
        REGISTRY.get_sample_value(
            "unclip_stage_call_duration_seconds_count", {"stage": "test_hop", "code": "OK"}
        )
        == 3
    )
    assert (
        REGISTRY.get_sample_value(
            "unclip_stage_call_duration_seconds_count", {"stage": "test_hop", "code": "INVALID_ARGUMENT"}
        )
        == 1
    )
