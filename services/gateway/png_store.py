"""The PNGs of `url` responses, served by the gateway for a bounded time and memory.

Each PNG gets an unguessable name (as the API's signed URLs, a URL is its own credential) and is
forgotten after the TTL, or earlier when the store is over its memory budget (oldest first). The
store lives in one gateway process: a URL is served by the replica that made it, so behind a
Service with several replicas, use b64_json or session affinity (docs/OPERATIONS.md).
"""

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable


class PngStore:
    def __init__(self, ttl_seconds: float, max_bytes: int, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl_seconds
        self._max_bytes = max_bytes
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, bytes]] = OrderedDict()  # name -> expiry, PNG
        self._bytes = 0

    def put(self, png: bytes) -> str:
        """Keeps the PNG; returns its name."""
        self._forget_expired()
        name = secrets.token_urlsafe(24)
        self._entries[name] = (self._clock() + self._ttl, png)
        self._bytes += len(png)
        while self._bytes > self._max_bytes and len(self._entries) > 1:
            self._drop(next(iter(self._entries)))
        return name

    def get(self, name: str) -> bytes | None:
        """The PNG, or None when unknown or expired."""
        entry = self._entries.get(name)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def _forget_expired(self) -> None:
        now = self._clock()
        while self._entries and next(iter(self._entries.values()))[0] <= now:
            self._drop(next(iter(self._entries)))

    def _drop(self, name: str) -> None:
        _, png = self._entries.pop(name)
        self._bytes -= len(png)
