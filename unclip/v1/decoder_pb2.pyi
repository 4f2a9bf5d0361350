from unclip.v1 import sampling_pb2 as _sampling_pb2
from unclip.v1 import tensor_pb2 as _tensor_pb2
from unclip.v1 import text_encoder_pb2 as _text_encoder_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DecodeImageRequest(_message.Message):
    __slots__ = ("image_embeddings", "text", "unconditional", "sampling", "random", "output_dtype", "latents", "inpainting")
    IMAGE_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    UNCONDITIONAL_FIELD_NUMBER: _ClassVar[int]
    SAMPLING_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_DTYPE_FIELD_NUMBER: _ClassVar[int]
    LATENTS_FIELD_NUMBER: _ClassVar[int]
    INPAINTING_FIELD_NUMBER: _ClassVar[int]
    image_embeddings: _tensor_pb2.Tensor
    text: _text_encoder_pb2.TextEncoding
    unconditional: _text_encoder_pb2.TextEncoding
    sampling: _sampling_pb2.SamplingParams
    random: _sampling_pb2.RandomState
    output_dtype: _tensor_pb2.DataType
    latents: _tensor_pb2.Tensor
    inpainting: Inpainting
    def __init__(self, image_embeddings: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., text: _Optional[_Union[_text_encoder_pb2.TextEncoding, _Mapping]] = ..., unconditional: _Optional[_Union[_text_encoder_pb2.TextEncoding, _Mapping]] = ..., sampling: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., random: _Optional[_Union[_sampling_pb2.RandomState, _Mapping]] = ..., output_dtype: _Optional[_Union[_tensor_pb2.DataType, str]] = ..., latents: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., inpainting: _Optional[_Union[Inpainting, _Mapping]] = ...) -> None: ...

class Inpainting(_message.Message):
    __slots__ = ("image", "repaint_mask")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    REPAINT_MASK_FIELD_NUMBER: _ClassVar[int]
    image: _tensor_pb2.Tensor
    repaint_mask: _tensor_pb2.Tensor
    def __init__(self, image: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., repaint_mask: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class InvertImageRequest(_message.Message):
    __slots__ = ("images", "image_embeddings", "text", "num_inference_steps", "random")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    IMAGE_EMBEDDINGS_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    NUM_INFERENCE_STEPS_FIELD_NUMBER: _ClassVar[int]
    RANDOM_FIELD_NUMBER: _ClassVar[int]
    images: _tensor_pb2.Tensor
    image_embeddings: _tensor_pb2.Tensor
    text: _text_encoder_pb2.TextEncoding
    num_inference_steps: int
    random: _sampling_pb2.RandomState
    def __init__(self, images: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., image_embeddings: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., text: _Optional[_Union[_text_encoder_pb2.TextEncoding, _Mapping]] = ..., num_inference_steps: _Optional[int] = ..., random: _Optional[_Union[_sampling_pb2.RandomState, _Mapping]] = ...) -> None: ...

class InvertImageResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _sampling_pb2.StepProgress
    result: _tensor_pb2.Tensor
    def __init__(self, progress: _Optional[_Union[_sampling_pb2.StepProgress, _Mapping]] = ..., result: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class DecodeImageResponse(_message.Message):
    __slots__ = ("progress", "result")
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    progress: _sampling_pb2.StepProgress
    result: Images
    def __init__(self, progress: _Optional[_Union[_sampling_pb2.StepProgress, _Mapping]] = ..., result: _Optional[_Union[Images, _Mapping]] = ...) -> None: ...

class Images(_message.Message):
    __slots__ = ("images", "generator_state")
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_STATE_FIELD_NUMBER: _ClassVar[int]
    images: _tensor_pb2.Tensor
    generator_state: bytes
    def __init__(self, images: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., generator_state: _Optional[bytes] = ...) -> None: ...
