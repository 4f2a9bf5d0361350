"""Requests whose bytes do not parse: INVALID_ARGUMENT instead of grpc's UNKNOWN.

grpc answers a request its deserializer cannot parse with UNKNOWN and the parser's exception text.
`tolerant` wraps a handler's deserializer so that such bytes become an `Undecodable` request, which
the stage server's admission answers with INVALID_ARGUMENT.
"""

from collections.abc import Callable

from google.protobuf.message import DecodeError


class Undecodable:
    """Stands in for a request whose bytes are not a valid message."""

    message = "request: the bytes are not a valid message of this method's request type"


def tolerant(deserialize: Callable[[bytes], object] | None) -> Callable[[bytes], object] | None:
    if deserialize is None:
        return None

    def parse(data: bytes) -> object:
        try:
            return deserialize(data)
        except DecodeError:
            return Undecodable()

    return parse
