"""A stage's reachability as the orchestrator judges it from its channels, and the request that needs
an unreachable stage: refused by name before any stage is called."""

import asyncio
import socket

import grpc
import pytest

from services.orchestrator.stage_clients import MeshClients, StageClient
from services.runtime.errors import Unavailable


def _closed_port_address() -> str:
    """An address nothing listens on (a port bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


async def _reachable(addresses: list[str]) -> bool:
    client = StageClient("decoder", addresses, 1 << 20)
    try:
        return await client.reachable()
    finally:
        await client.close()


async def _with_server(check):
    server = grpc.aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        return await check(f"127.0.0.1:{port}")
    finally:
        await server.stop(None)


def test_a_stage_whose_every_replica_refuses_connections_is_unreachable():
    assert not asyncio.run(_reachable([_closed_port_address(), _closed_port_address()]))


def test_one_listening_replica_makes_a_stage_reachable():
    assert asyncio.run(_with_server(lambda live: _reachable([_closed_port_address(), live])))


def test_require_names_the_first_unreachable_stage():
    async def require(live: str) -> None:
        clients = MeshClients({"text_encoder": [live], "decoder": [_closed_port_address()]}, 1 << 20)
        try:
            await clients.require(("text_encoder", "decoder"))
        finally:
            await clients.close()

    with pytest.raises(Unavailable) as error:
        asyncio.run(_with_server(require))
    assert error.value.stage == "decoder"
    assert error.value.code == grpc.StatusCode.UNAVAILABLE
