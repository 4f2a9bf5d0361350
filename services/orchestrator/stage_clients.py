"""Long-lived channels to the stage services, several replicas per stage.

One channel per configured address, reused for every call. An address may be a plain `host:port` or
any gRPC target (`dns:///svc.ns.svc.cluster.local:50053` on a headless Service); each channel balances
over what its target resolves to with round_robin, and the client rotates over its channels, so a
call that finds one replica down can be retried on the next.

A stage none of whose channels can connect (every replica gone) is found before a request does any
work (MeshClients.require): the request fails at once with UNAVAILABLE naming the stage, instead of
after the stages before it and the retries' backoff.
"""

import asyncio
import itertools
import json
from collections.abc import Callable

import grpc

from services import stage_registry
from services.runtime.errors import Unavailable
from services.runtime.server import MAX_FRAME_SIZE
from services.telemetry.grpc_tracing import stage_call_interceptors

ChannelOpener = Callable[[str, str, list, grpc.ChannelCredentials | None], grpc.aio.Channel]
_SERVICE_CONFIG = json.dumps({"loadBalancingConfig": [{"round_robin": {}}]})
# How long a stage whose channels all failed to connect is watched for one coming back: a little more
# than the longest reconnect backoff (with its 20% jitter), so a replica restarted since is found.
RECONNECT_GRACE_SECONDS = 0.3
_STATE_POLL_SECONDS = 0.02
_CONNECTED = grpc.ChannelConnectivity.READY
_UNREACHABLE = (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)


def channel_options(max_message_bytes: int) -> list[tuple[str, object]]:
    return [
        ("grpc.max_send_message_length", max_message_bytes),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.service_config", _SERVICE_CONFIG),
        ("grpc.enable_retries", 0),
        ("grpc.http2.max_frame_size", MAX_FRAME_SIZE),
        # A restarted replica is found again within a quarter of a second (the default backoff grows
        # to 2 min); a connection attempt to a gone replica's address costs next to nothing.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 250),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
    ]


def _open_channel(
    stage: str, address: str, options: list, credentials: grpc.ChannelCredentials | None
) -> grpc.aio.Channel:
    """A channel whose interceptors trace and time each call under the stage and the address."""
    interceptors = stage_call_interceptors(stage, address)
    if credentials is None:
        return grpc.aio.insecure_channel(address, options=options, interceptors=interceptors)
    return grpc.aio.secure_channel(address, credentials, options=options, interceptors=interceptors)


class StageClient:
    """The channels of one stage and a round-robin choice among them; `open_channel` opens one
    (stage, address, options, credentials): tests hand in one that opens fake channels."""

    def __init__(
        self,
        stage: str,
        addresses: list[str],
        max_message_bytes: int,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        open_channel: ChannelOpener = _open_channel,
    ):
        if not addresses:
            raise ValueError(f"no address configured for stage {stage}")
        self.stage = stage
        self.addresses = list(addresses)
        options = channel_options(max_message_bytes)
        self._channels = [open_channel(stage, a, options, credentials) for a in self.addresses]
        self._next = itertools.cycle(range(len(self._channels)))

    @property
    def replicas(self) -> int:
        return len(self._channels)

    def channel(self, avoid: grpc.aio.Channel | None = None) -> grpc.aio.Channel:
        """The next channel in turn, other than `avoid` (the one a retried call just failed on)
        when there is another: concurrent calls share the rotation, so without it a retry can
        land on the same dead or draining replica again and again."""
        chosen = self._channels[next(self._next)]
        if chosen is avoid and len(self._channels) > 1:
            chosen = self._channels[next(self._next)]
        return chosen

    async def reachable(self, grace: float = RECONNECT_GRACE_SECONDS) -> bool:
        """Whether a replica may answer: True at once when a channel is connected; False when every
        channel is still failing to connect after `grace` seconds. Asking connects idle channels, so
        a replica gone since the last call is seen within a connection attempt (refused at once)."""
        loop = asyncio.get_running_loop()
        end = loop.time() + grace
        while True:
            states = [channel.get_state(try_to_connect=True) for channel in self._channels]
            if _CONNECTED in states:
                return True
            if loop.time() >= end:  # still connecting after the grace: let the call find out
                return not all(state in _UNREACHABLE for state in states)
            await asyncio.sleep(_STATE_POLL_SECONDS)

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()


class MeshClients:
    """A StageClient per configured stage; the orchestrator is handed one at start-up."""

    def __init__(
        self,
        peers: dict[str, list[str]],
        max_message_bytes: int,
        credentials: grpc.ChannelCredentials | None = None,
        *,
        open_channel: ChannelOpener = _open_channel,
    ):
        unknown = set(peers) - set(stage_registry.model_stages())
        if unknown:
            raise ValueError(f"unknown stage(s) in peers: {', '.join(sorted(unknown))}")
        self._clients = {
            stage: StageClient(stage, addresses, max_message_bytes, credentials, open_channel=open_channel)
            for stage, addresses in peers.items()
            if addresses
        }

    def has(self, stage: str) -> bool:
        return stage in self._clients

    def get(self, stage: str) -> StageClient:
        return self._clients[stage]

    async def require(self, stages: tuple[str, ...]) -> None:
        """Raises Unavailable naming the first of `stages` (all configured) that has no reachable
        replica; the stages are asked together, so their graces overlap."""
        reachable = await asyncio.gather(*(self.get(stage).reachable() for stage in stages))
        for stage, ok in zip(stages, reachable, strict=True):
            if not ok:
                raise Unavailable(stage, "no replica can be reached")

    async def close(self) -> None:
        for client in self._clients.values():
            await client.close()
