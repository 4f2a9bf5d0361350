"""Admission of API requests: at most --max-in-flight at once (429 past it), none while draining
(503), and a wait for the ones in flight when the gateway stops."""

import asyncio

from aiohttp import web

from services.gateway.errors import ApiError

RETRY_AFTER_SECONDS = 1


class Admission:
    def __init__(self, max_in_flight: int):
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.accepting = True
        self._idle = asyncio.Event()
        self._idle.set()

    @web.middleware
    async def middleware(self, request: web.Request, handler):
        if request.match_info.route.name is None:  # health, files: not API requests
            return await handler(request)
        if not self.accepting:
            raise ApiError(
                503,
                "the gateway is draining; retry on another replica",
                error_type="server_error",
                code="service_unavailable",
                status="UNAVAILABLE",
            )
        if self.in_flight >= self.max_in_flight:
            raise ApiError(
                429,
                f"the gateway has {self.max_in_flight} requests in flight",
                error_type="rate_limit_error",
                code="rate_limit_exceeded",
                status="RESOURCE_EXHAUSTED",
                retry_after_seconds=RETRY_AFTER_SECONDS,
            )
        self.in_flight += 1
        self._idle.clear()
        try:
            return await handler(request)
        finally:
            self.in_flight -= 1
            if not self.in_flight:
                self._idle.set()

    async def drain(self, grace_seconds: float) -> bool:
        """Refuses new requests; True when the ones in flight finished within the grace."""
        self.accepting = False
        try:
            await asyncio.wait_for(self._idle.wait(), grace_seconds)
        except TimeoutError:
            return False
        return True
