from unclip.v1 import decoder_pb2 as _decoder_pb2
from unclip.v1 import sampling_pb2 as _sampling_pb2
from unclip.v1 import tensor_pb2 as _tensor_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpsampleImageRequest(_message.Message):
    __slots__ = ("images", "sampling", "random", "noise_level", "output_dtype")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    NOISE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DTYPE_FIELD_NUMBER: _ClassVar[int]
    images: _tensor_pb2.Tensor
    sampling: _sampling_pb2.SamplingParams
    random: _sampling_pb2.RandomState
    noise_level: int
    output_dtype: _tensor_pb2.DataType
    def __init__(self, images: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., sampling: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., random: _Optional[_Union[_sampling_pb2.RandomState, _Mapping]] = ..., noise_level: _Optional[int] = ..., output_dtype: _Optional[_Union[_tensor_pb2.DataType, str]] = ...) -> None: ...

class UpsampleImageResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _sampling_pb2.StepProgress
    result: _decoder_pb2.Images
    def __init__(self, progress: _Optional[_Union[_sampling_pb2.StepProgress, _Mapping]] = ..., result: _Optional[_Union[_decoder_pb2.Images, _Mapping]] = ...) -> None: ...
