"""TextEncoding protos <-> TextTensors, with the checks a stage applies to text it receives."""

import torch

from services.diffusion.text import TextTensors
from services.runtime.errors import InvalidArgument
from services.runtime.tensor_codec import from_proto, to_proto
from unclip.v1 import text_encoder_pb2

_FLOAT = {torch.float32, torch.float16}


def to_wire(text: TextTensors) -> text_encoder_pb2.TextEncoding:
    return text_encoder_pb2.TextEncoding(
        text_embedding=to_proto(text.text_embedding),
        token_states=to_proto(text.token_states),
        attention_mask=to_proto(text.attention_mask),
    )


def from_wire(
    message: text_encoder_pb2.TextEncoding,
    field: str,
    *,
    embedding_dim: int,
    token_width: int,
    length: int | None = None,
    rows: int | None = None,
) -> TextTensors:
    """Decodes and checks a TextEncoding against the model's widths (and, if given, rows and length)."""
    if not message.HasField("text_embedding"):
        raise InvalidArgument(field, "is required")
    embedding = from_proto(
        message.text_embedding, f"{field}.text_embedding", dtypes=_FLOAT, shape=(rows, embedding_dim)
    )
    count = embedding.shape[0]
    if count == 0:
        raise InvalidArgument(f"{field}.text_embedding", "must have at least one row")
    states = from_proto(
        message.token_states, f"{field}.token_states", dtypes=_FLOAT, shape=(count, length, token_width)
    )
    mask = from_proto(
        message.attention_mask, f"{field}.attention_mask", dtypes={torch.bool}, shape=(count, states.shape[1])
    )
    return TextTensors(embedding.float(), states.float(), mask.to(torch.bool))
