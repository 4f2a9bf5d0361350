"""Bearer-token authentication of the orchestrator's callers (and the HTTP gateway's: TokenSet and
bearer_token serve both).

Every call must carry `authorization: Bearer <token>` with one of the tokens read from the tokens
file (one per line; blank lines and lines starting with # are skipped). Health checks and reflection
stay open so probes need no token. The comparison takes the same time whichever token matches, and
a token is never logged: a refusal logs only the method.
"""

import hmac
import logging
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import grpc
from grpc_health.v1 import health
from grpc_reflection.v1alpha import reflection

from services.runtime.settings import ServerSettings
from services.telemetry.metrics import observed_rpc

logger = logging.getLogger(__name__)

OPEN_SERVICES = frozenset({health.SERVICE_NAME, reflection.SERVICE_NAME})
_PREFIX = "bearer "
_REFUSAL = "a valid bearer token is required (metadata `authorization: Bearer <token>`)"


def read_tokens(path: str) -> list[bytes]:
    """The tokens of a tokens file; ValueError when it cannot be read or holds none."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--auth-tokens-file: cannot read {path}: {error}") from None
    tokens = [line.strip().encode() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not tokens:
        raise ValueError(f"--auth-tokens-file: {path} holds no token")
    return tokens


def bearer_token(authorization: str | None) -> bytes | None:
    """The token of an `authorization` value `Bearer TOKEN` (any case), or None."""
    if authorization is None or authorization[: len(_PREFIX)].lower() != _PREFIX:
        return None
    return authorization[len(_PREFIX) :].strip().encode()


def _presented(metadata: Iterable[tuple[str, str | bytes]] | None) -> bytes | None:
    for key, value in metadata or ():
        if key == "authorization" and isinstance(value, str) and (token := bearer_token(value)):
            return token
    return None


class TokenSet:
    """The configured tokens, and the check of a presented one."""

    def __init__(self, tokens: list[bytes]):
        if not tokens:
            raise ValueError("a token set needs at least one token")
        self._tokens = tuple(tokens)

    def allows(self, presented: bytes | None) -> bool:
        """Compares with every token, in constant time per token, without stopping at a match."""
        if presented is None:
            return False
        matched = False
        for token in self._tokens:
            matched |= hmac.compare_digest(presented, token)
        return matched


def _refusal(stage: str, method: str, streaming: bool):
    """A handler that refuses the call, counted in the RPC metrics as UNAUTHENTICATED."""

    async def refuse(request, context: grpc.aio.ServicerContext) -> None:
        async with observed_rpc(stage, method, context):
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, _REFUSAL)

    async def refuse_stream(request, context: grpc.aio.ServicerContext) -> AsyncIterator[None]:
        await refuse(request, context)
        yield  # never reached; makes this an async generator, which streaming handlers must be

    return refuse_stream if streaming else refuse


class BearerTokenAuth(grpc.aio.ServerInterceptor):
    """Refuses calls to any service but health and reflection without a known token.

    It runs before the server's admission control (services/runtime/server.py), so a refused call
    takes no admission slot and is UNAUTHENTICATED even when the server is full; its request bytes
    are never parsed. `stage` labels the refusals in the RPC metrics.
    """

    def __init__(self, tokens: list[bytes], stage: str):
        self.tokens = TokenSet(tokens)
        self.stage = stage

    def allows(self, presented: bytes | None) -> bool:
        return self.tokens.allows(presented)

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        _, service, method = handler_call_details.method.split("/")
        if (
            handler is None
            or service in OPEN_SERVICES
            or self.allows(_presented(handler_call_details.invocation_metadata))
        ):
            return handler
        logger.info("refused an unauthenticated call to %s", handler_call_details.method)
        factory = (
            grpc.unary_stream_rpc_method_handler
            if handler.response_streaming
            else grpc.unary_unary_rpc_method_handler
        )
        return factory(
            _refusal(self.stage, method, handler.response_streaming),
            response_serializer=handler.response_serializer,
        )


def auth_interceptors(settings: ServerSettings) -> list[grpc.aio.ServerInterceptor]:
    """The orchestrator's authentication: on when a tokens file is configured."""
    if settings.auth_tokens_file is None:
        return []
    return [BearerTokenAuth(read_tokens(settings.auth_tokens_file), "orchestrator")]
