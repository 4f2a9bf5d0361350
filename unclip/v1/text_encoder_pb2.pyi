from unclip.v1 import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TextEncoding(_message.Message):
    __slots__ = ("text_embedding", "token_states", "attention_mask")
    TEXT_EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    TOKEN_STATES_FIELD_NUMBER: _ClassVar[int]
    ATTENTION_MASK_FIELD_NUMBER: _ClassVar[int]
    text_embedding: _tensor_pb2.Tensor
    token_states: _tensor_pb2.Tensor
    attention_mask: _tensor_pb2.Tensor
    def __init__(self, text_embedding: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., token_states: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., attention_mask: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class EncodeTextRequest(_message.Message):
    __slots__ = ("prompts",)
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    prompts: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, prompts: _Optional[_Iterable[str]] = ...) -> None: ...

class EncodeTextResponse(_message.Message):
    __slots__ = ("prompts", "unconditional", "truncated")
    PROMPTS_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    prompts: TextEncoding
    unconditional: TextEncoding
    truncated: _containers.RepeatedScalarFieldContainer[bool]
    def __init__(self, prompts: _Optional[_Union[TextEncoding, _Mapping]] = ..., unconditional: _Optional[_Union[TextEncoding, _Mapping]] = ..., truncated: _Optional[_Iterable[bool]] = ...) -> None: ...

class EncodeImageRequest(_message.Message):
    __slots__ = ("images",)
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    images: _tensor_pb2.Tensor
    def __init__(self, images: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class EncodeImageResponse(_message.Message):
    __slots__ = ("image_embeddings",)
    IMAGE_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    image_embeddings: _tensor_pb2.Tensor
    def __init__(self, image_embeddings: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...
