"""A stage server in this process, on port 0, made from its real StageService: for contract tests.

The server runs on its own event loop in a background thread; tests talk to it with sync stubs.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

import grpc

from services.runtime.server import StageServer
from services.runtime.settings import ServerSettings


@contextlib.contextmanager
def running_stage(stage: str, make_service, bundle: str, **settings) -> Iterator[grpc.Channel]:
    """Starts `stage` (its StageService class) on a free loopback port; yields a channel to it."""
    config = ServerSettings(host="127.0.0.1", port=0, bundle=str(bundle), grace_seconds=2, **settings)
    service = make_service(stage, config)
    server = StageServer(stage, config, service.register, service.load, service.interceptors())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(server.start(), loop).result(timeout=120)
    channel = grpc.insecure_channel(f"127.0.0.1:{server.port}")
    try:
        yield channel
    finally:
        channel.close()
        asyncio.run_coroutine_threadsafe(server.drain_and_stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def status_of(call) -> tuple[grpc.StatusCode, str]:
    """Runs a call that must fail (a unary call, or a stream drained to its end); its code and details."""
    try:
        result = call()
        if hasattr(result, "__iter__"):
            list(result)
    except grpc.RpcError as error:
        return error.code(), error.details()
    raise AssertionError("the call succeeded")


def text_request_fields(text_encoder, prompts: list[str]) -> dict:
    """The `text` and `unconditional` fields of a prior or decoder request, from the real encoder."""
    from services.text_encoder.wire import to_wire

    encoding, _ = text_encoder.encode_text(prompts)
    return {"text": to_wire(encoding), "unconditional": to_wire(text_encoder.unconditional())}


def drain(stream) -> tuple[list, object]:
    """A stage stream's progress messages and its final result."""
    responses = list(stream)
    assert responses[-1].HasField("result") and all(r.HasField("progress") for r in responses[:-1])
    return [r.progress for r in responses[:-1]], responses[-1].result
