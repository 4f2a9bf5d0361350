import asyncio
import contextlib
import gc
import logging
import signal
import subprocess
import sys
import threading
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from services.runtime import server as server_module
from services.runtime.rich_status import FailureDetails, read_details
from services.runtime.server import StageServer, server_options
from services.runtime.settings import ServerSettings
from services.security.auth import BearerTokenAuth
from services.telemetry.metrics import REGISTRY
from unclip.v1 import decoder_pb2, decoder_pb2_grpc, text_encoder_pb2, text_encoder_pb2_grpc

REPO = Path(__file__).resolve().parents[2]
SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
TEXT_ENCODER = "unclip.v1.TextEncoderService"
DECODER = "unclip.v1.DecoderService"


class TextEncoder(text_encoder_pb2_grpc.TextEncoderServiceServicer):
    """EncodeText answers at once, or once `gate` is set when the prompt is "wait"."""

    def __init__(self):
        self.gate = asyncio.Event()

    async def EncodeText(self, request, context):
        if list(request.prompts) == ["wait"]:
            await self.gate.wait()
        return text_encoder_pb2.EncodeTextResponse(truncated=[False] * len(request.prompts))


class Decoder(decoder_pb2_grpc.DecoderServiceServicer):
    def __init__(self, gate: asyncio.Event):
        self.gate = gate

    async def DecodeImage(self, request, context):
        yield decoder_pb2.DecodeImageResponse()
        await self.gate.wait()
        yield decoder_pb2.DecodeImageResponse()


def settings(**overrides) -> ServerSettings:
    return ServerSettings(**{"port": 0, "grace_seconds": 5, **overrides})


@contextlib.asynccontextmanager
async def running(load=None, interceptors=(), **overrides):
    """A started text-encoder + decoder StageServer, a channel to it and the text encoder."""
    text_encoder = TextEncoder()

    def register(server):
        text_encoder_pb2_grpc.add_TextEncoderServiceServicer_to_server(text_encoder, server)
        decoder_pb2_grpc.add_DecoderServiceServicer_to_server(Decoder(text_encoder.gate), server)
        return [TEXT_ENCODER, DECODER]

    stage_server = StageServer("text_encoder", settings(**overrides), register, load, interceptors)
    await stage_server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{stage_server.port}") as channel:
            yield stage_server, channel, text_encoder
    finally:
        text_encoder.gate.set()
        if stage_server.accepting:
            await stage_server.drain_and_stop()


async def health_status(channel, service: str = "") -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    response = await stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=5)
    return response.status


async def encode(channel, *prompts: str, timeout: float = 5, metadata: tuple = ()):
    stub = text_encoder_pb2_grpc.TextEncoderServiceStub(channel)
    return await stub.EncodeText(
        text_encoder_pb2.EncodeTextRequest(prompts=prompts), timeout=timeout, metadata=metadata
    )


async def until(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.005)


def test_not_serving_while_loading_then_serving(capsys):
    loaded = threading.Event()

    async def scenario():
        async with contextlib.AsyncExitStack() as stack:

            def register(server):
                text_encoder_pb2_grpc.add_TextEncoderServiceServicer_to_server(TextEncoder(), server)
                return [TEXT_ENCODER]

            stage_server = StageServer("prior", settings(), register, lambda: loaded.wait(5))
            starting = asyncio.create_task(stage_server.start())
            await until(lambda: stage_server.port)
            channel = await stack.enter_async_context(
                grpc.aio.insecure_channel(f"127.0.0.1:{stage_server.port}")
            )
            assert await health_status(channel) == NOT_SERVING
            assert await health_status(channel, TEXT_ENCODER) == NOT_SERVING
            assert capsys.readouterr().out == (
                f"unclip-mesh prior listening on 127.0.0.1:{stage_server.port}\n"
            )
            loaded.set()
            await asyncio.wait_for(starting, 5)
            assert await health_status(channel) == SERVING
            assert await health_status(channel, TEXT_ENCODER) == SERVING
            assert capsys.readouterr().out == "unclip-mesh prior ready\n"
            await stage_server.drain_and_stop()

    asyncio.run(scenario())


def test_reflection_lists_the_services():
    async def scenario():
        async with running() as (_, channel, _):
            stub = reflection_pb2_grpc.ServerReflectionStub(channel)
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            async for response in stub.ServerReflectionInfo(iter([request]), timeout=5):
                return {s.name for s in response.list_services_response.service}

    names = asyncio.run(scenario())
    assert {TEXT_ENCODER, DECODER, "grpc.health.v1.Health"} <= names


def test_oversize_message_is_refused_and_the_server_still_answers():
    async def scenario():
        async with running(max_message_mb=1) as (_, channel, _):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await encode(channel, "x" * (2 * 1024 * 1024))
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert list((await encode(channel, "a cat")).truncated) == [False]

    asyncio.run(scenario())


def test_drain_finishes_in_flight_calls_and_refuses_new_ones():
    async def scenario():
        async with running() as (stage_server, channel, text_encoder):
            in_flight = asyncio.create_task(encode(channel, "wait"))
            await until(lambda: stage_server.in_flight == 1)
            draining = asyncio.create_task(stage_server.drain_and_stop())
            await until(lambda: not stage_server.accepting)
            assert await health_status(channel) == NOT_SERVING
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await encode(channel, "late")
            assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
            assert caught.value.details() == "text_encoder stage is draining"
            assert not draining.done()
            text_encoder.gate.set()
            assert list((await in_flight).truncated) == [False]
            await asyncio.wait_for(draining, 5)
            assert stage_server.in_flight == 0

    asyncio.run(scenario())


def test_a_full_server_refuses_with_retry_info_naming_the_stage():
    async def scenario():
        async with running(max_queue=1) as (stage_server, channel, _):
            waiting = asyncio.create_task(encode(channel, "wait"))
            await until(lambda: stage_server.in_flight == 1)
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await encode(channel, "a cat")
            assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
            assert read_details(caught.value) == FailureDetails(
                retry_after_seconds=1.0, reason="OVERLOADED", stage="text_encoder"
            )
            waiting.cancel()

    asyncio.run(scenario())


def test_authentication_runs_before_admission():
    """A caller without a valid token is UNAUTHENTICATED even when the server is full, and takes no
    admission slot; a valid caller is then refused for the load. Refusals are counted."""
    token = b"a-valid-token"
    labels = {"stage": "text_encoder", "method": "EncodeText", "code": "UNAUTHENTICATED"}
    before = REGISTRY.get_sample_value("unclip_rpc_requests_total", labels) or 0.0

    async def scenario():
        async with running(max_queue=1, interceptors=[BearerTokenAuth([token], "text_encoder")]) as (
            stage_server,
            channel,
            _,
        ):
            valid = (("authorization", f"Bearer {token.decode()}"),)
            waiting = asyncio.create_task(encode(channel, "wait", metadata=valid))
            await until(lambda: stage_server.in_flight == 1)
            wrong = (("authorization", "Bearer wrong"),)
            for metadata, expected in (
                ((), grpc.StatusCode.UNAUTHENTICATED),
                (wrong, grpc.StatusCode.UNAUTHENTICATED),
                (valid, grpc.StatusCode.RESOURCE_EXHAUSTED),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as caught:
                    await encode(channel, "a cat", metadata=metadata)
                assert caught.value.code() == expected
                assert stage_server.in_flight == 1
            waiting.cancel()

    asyncio.run(scenario())
    assert REGISTRY.get_sample_value("unclip_rpc_requests_total", labels) == before + 2


def test_streaming_calls_count_as_in_flight():
    async def scenario():
        async with running() as (stage_server, channel, text_encoder):
            call = decoder_pb2_grpc.DecoderServiceStub(channel).DecodeImage(
                decoder_pb2.DecodeImageRequest(), timeout=5
            )
            await call.read()
            assert stage_server.in_flight == 1
            text_encoder.gate.set()
            assert await call.read() == decoder_pb2.DecodeImageResponse()
            await call.code()
            await until(lambda: stage_server.in_flight == 0)

    asyncio.run(scenario())


def test_grace_runs_out():
    async def scenario():
        async with running(grace_seconds=0.2) as (stage_server, channel, _):
            stuck = asyncio.create_task(encode(channel, "wait"))
            await until(lambda: stage_server.in_flight == 1)
            await asyncio.wait_for(stage_server.drain_and_stop(), 3)
            with pytest.raises(grpc.aio.AioRpcError):
                await stuck

    asyncio.run(scenario())


def test_a_task_left_pending_is_reported_when_the_server_stops(caplog):
    async def scenario():
        async with running() as (stage_server, _, _):
            waiter = asyncio.Queue()
            asyncio.ensure_future(waiter.get())  # noqa: RUF006 - left behind, as a cancelled call's wait once was
            del waiter
            await stage_server.drain_and_stop()

    gc.disable()  # no collection but the server's own
    try:
        with caplog.at_level(logging.ERROR, logger="asyncio"):
            asyncio.run(scenario())
    finally:
        gc.enable()
    assert any("Task was destroyed but it is pending" in r.getMessage() for r in caplog.records)


def test_load_failure_exits_non_zero_with_one_clear_line(caplog, capsys):
    def load():
        raise FileNotFoundError("bundle models/missing has no unclip_bundle.json")

    async def scenario():
        async with running(load=load):
            pass

    with caplog.at_level(logging.INFO, logger=server_module.__name__), pytest.raises(SystemExit) as caught:
        asyncio.run(scenario())
    assert caught.value.code == 1
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        "text_encoder stage cannot load the model: bundle models/missing has no unclip_bundle.json"
    ]
    assert errors[0].exc_info is None
    assert "ready" not in capsys.readouterr().out


def test_port_in_use_exits_non_zero(caplog):
    async def scenario():
        async with running() as (first, _, _):
            second = StageServer("prior", settings(port=first.port), lambda server: [])
            with pytest.raises(SystemExit) as caught:
                await second.start()
            return first.port, caught.value.code

    with caplog.at_level(logging.ERROR, logger=server_module.__name__):
        port, code = asyncio.run(scenario())
    assert code == 1
    assert f"prior stage cannot bind 127.0.0.1:{port}" in caplog.text


def test_server_options_follow_the_settings():
    options = dict(
        server_options(ServerSettings(max_message_mb=3, grace_seconds=7, max_connection_age_seconds=90))
    )
    assert options["grpc.max_send_message_length"] == 3 * 1024 * 1024
    assert options["grpc.max_receive_message_length"] == 3 * 1024 * 1024
    assert options["grpc.max_connection_age_ms"] == 90_000
    assert options["grpc.max_connection_age_grace_ms"] == 7_000
    assert options["grpc.keepalive_time_ms"] > 0


SERVE_SCRIPT = """
import asyncio, time
from services.runtime.server import StageServer, run_until_signal
from services.runtime.settings import ServerSettings

server = StageServer("decoder", ServerSettings(port=0, grace_seconds=2), lambda s: [],
                     lambda: time.sleep(0.2))
asyncio.run(run_until_signal(server))
"""


@pytest.mark.parametrize(
    "signum, when", [(signal.SIGTERM, "loading"), (signal.SIGINT, "ready"), (signal.SIGTERM, "ready")]
)
def test_process_drains_and_exits_cleanly_on_signal(signum, when):
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE_SCRIPT],
        cwd=REPO,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert process.stdout.readline().startswith("unclip-mesh decoder listening on 127.0.0.1:")
        if when == "ready":
            assert process.stdout.readline() == "unclip-mesh decoder ready\n"
        process.send_signal(signum)
        assert process.wait(timeout=10) == 0, process.stderr.read()
    finally:
        process.kill()
        process.wait()
