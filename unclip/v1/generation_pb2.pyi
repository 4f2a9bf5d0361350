from unclip.v1 import sampling_pb2 as _sampling_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Stage(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STAGE_UNSPECIFIED: _ClassVar[Stage]
    STAGE_TEXT_ENCODER: _ClassVar[Stage]
    STAGE_PRIOR: _ClassVar[Stage]
    STAGE_DECODER: _ClassVar[Stage]
    STAGE_UPSAMPLER_256: _ClassVar[Stage]
    STAGE_UPSAMPLER_1024: _ClassVar[Stage]

class ImageSize(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    IMAGE_SIZE_UNSPECIFIED: _ClassVar[ImageSize]
    IMAGE_SIZE_64: _ClassVar[ImageSize]
    IMAGE_SIZE_256: _ClassVar[ImageSize]
    IMAGE_SIZE_1024: _ClassVar[ImageSize]
STAGE_UNSPECIFIED: Stage
STAGE_TEXT_ENCODER: Stage
STAGE_PRIOR: Stage
STAGE_DECODER: Stage
STAGE_UPSAMPLER_256: Stage
STAGE_UPSAMPLER_1024: Stage
IMAGE_SIZE_UNSPECIFIED: ImageSize
IMAGE_SIZE_64: ImageSize
IMAGE_SIZE_256: ImageSize
IMAGE_SIZE_1024: ImageSize

class GenerateImagesRequest(_message.Message):
    __slots__ = ("prompt", "num_images", "size", "seed", "prior", "decoder", "upsampler_256", "upsampler_1024")
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PRIOR_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_256_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_1024_FIELD_NUMBER: _ClassVar[int]
    prompt: str
    num_images: int
    size: ImageSize
    seed: int
    prior: _sampling_pb2.SamplingParams
    decoder: _sampling_pb2.SamplingParams
    upsampler_256: _sampling_pb2.SamplingParams
    upsampler_1024: _sampling_pb2.SamplingParams
    def __init__(self, prompt: _Optional[str] = ..., num_images: _Optional[int] = ..., size: _Optional[_Union[ImageSize, str]] = ..., seed: _Optional[int] = ..., prior: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., decoder: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_256: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_1024: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class GenerateImagesResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: GenerationEvent
    def __init__(self, event: _Optional[_Union[GenerationEvent, _Mapping]] = ...) -> None: ...

class GenerationEvent(_message.Message):
    __slots__ = ("stage_started", "step_progress", "stage_finished", "result")
    STAGE_STARTED_FIELD_NUMBER: _ClassVar[int]
    STEP_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STAGE_FINISHED_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    stage_started: StageStarted
    step_progress: StageStep
    stage_finished: StageFinished
    result: GeneratedImages
    def __init__(self, stage_started: _Optional[_Union[StageStarted, _Mapping]] = ..., step_progress: _Optional[_Union[StageStep, _Mapping]] = ..., stage_finished: _Optional[_Union[StageFinished, _Mapping]] = ..., result: _Optional[_Union[GeneratedImages, _Mapping]] = ...) -> None: ...

class ImageInput(_message.Message):
    __slots__ = ("encoded",)
    ENCODED_FIELD_NUMBER: _ClassVar[int]
    encoded: bytes
    def __init__(self, encoded: _Optional[bytes] = ...) -> None: ...

class CreateVariationsRequest(_message.Message):
    __slots__ = ("image", "num_images", "size", "seed", "decoder", "upsampler_256", "upsampler_1024", "eta")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_256_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_1024_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    image: ImageInput
    num_images: int
    size: ImageSize
    seed: int
    decoder: _sampling_pb2.SamplingParams
    upsampler_256: _sampling_pb2.SamplingParams
    upsampler_1024: _sampling_pb2.SamplingParams
    eta: float
    def __init__(self, image: _Optional[_Union[ImageInput, _Mapping]] = ..., num_images: _Optional[int] = ..., size: _Optional[_Union[ImageSize, str]] = ..., seed: _Optional[int] = ..., decoder: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_256: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_1024: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., eta: _Optional[float] = ...) -> None: ...

class CreateVariationsResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: GenerationEvent
    def __init__(self, event: _Optional[_Union[GenerationEvent, _Mapping]] = ...) -> None: ...

class Endpoint(_message.Message):
    __slots__ = ("image", "prompt")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    image: ImageInput
    prompt: str
    def __init__(self, image: _Optional[_Union[ImageInput, _Mapping]] = ..., prompt: _Optional[str] = ...) -> None: ...

class InterpolateImagesRequest(_message.Message):
    __slots__ = ("start", "end", "num_images", "size", "seed", "prior", "decoder", "upsampler_256", "upsampler_1024")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PRIOR_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_256_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_1024_FIELD_NUMBER: _ClassVar[int]
    start: Endpoint
    end: Endpoint
    num_images: int
    size: ImageSize
    seed: int
    prior: _sampling_pb2.SamplingParams
    decoder: _sampling_pb2.SamplingParams
    upsampler_256: _sampling_pb2.SamplingParams
    upsampler_1024: _sampling_pb2.SamplingParams
    def __init__(self, start: _Optional[_Union[Endpoint, _Mapping]] = ..., end: _Optional[_Union[Endpoint, _Mapping]] = ..., num_images: _Optional[int] = ..., size: _Optional[_Union[ImageSize, str]] = ..., seed: _Optional[int] = ..., prior: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., decoder: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_256: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_1024: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class InterpolateImagesResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: GenerationEvent
    def __init__(self, event: _Optional[_Union[GenerationEvent, _Mapping]] = ...) -> None: ...

class EditImageRequest(_message.Message):
    __slots__ = ("image", "instruction", "original_caption", "strength", "size", "seed", "decoder", "upsampler_256", "upsampler_1024")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    INSTRUCTION_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_CAPTION_FIELD_NUMBER: _ClassVar[int]
    STRENGTH_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_256_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_1024_FIELD_NUMBER: _ClassVar[int]
    image: ImageInput
    instruction: str
    original_caption: str
    strength: float
    size: ImageSize
    seed: int
    decoder: _sampling_pb2.SamplingParams
    upsampler_256: _sampling_pb2.SamplingParams
    upsampler_1024: _sampling_pb2.SamplingParams
    def __init__(self, image: _Optional[_Union[ImageInput, _Mapping]] = ..., instruction: _Optional[str] = ..., original_caption: _Optional[str] = ..., strength: _Optional[float] = ..., size: _Optional[_Union[ImageSize, str]] = ..., seed: _Optional[int] = ..., decoder: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_256: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_1024: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class EditImageResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: GenerationEvent
    def __init__(self, event: _Optional[_Union[GenerationEvent, _Mapping]] = ...) -> None: ...

class InpaintImageRequest(_message.Message):
    __slots__ = ("image", "mask", "prompt", "num_images", "size", "seed", "prior", "decoder", "upsampler_256", "upsampler_1024")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    MASK_FIELD_NUMBER: _ClassVar[int]
    PROMPT_FIELD_NUMBER: _ClassVar[int]
    NUM_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    PRIOR_FIELD_NUMBER: _ClassVar[int]
    DECODER_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_256_FIELD_NUMBER: _ClassVar[int]
    UPSAMPLER_1024_FIELD_NUMBER: _ClassVar[int]
    image: ImageInput
    mask: ImageInput
    prompt: str
    num_images: int
    size: ImageSize
    seed: int
    prior: _sampling_pb2.SamplingParams
    decoder: _sampling_pb2.SamplingParams
    upsampler_256: _sampling_pb2.SamplingParams
    upsampler_1024: _sampling_pb2.SamplingParams
    def __init__(self, image: _Optional[_Union[ImageInput, _Mapping]] = ..., mask: _Optional[_Union[ImageInput, _Mapping]] = ..., prompt: _Optional[str] = ..., num_images: _Optional[int] = ..., size: _Optional[_Union[ImageSize, str]] = ..., seed: _Optional[int] = ..., prior: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., decoder: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_256: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ..., upsampler_1024: _Optional[_Union[_sampling_pb2.SamplingParams, _Mapping]] = ...) -> None: ...

class InpaintImageResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: GenerationEvent
    def __init__(self, event: _Optional[_Union[GenerationEvent, _Mapping]] = ...) -> None: ...

class StageStarted(_message.Message):
    __slots__ = ("stage",)
    STAGE_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ...) -> None: ...

class StageStep(_message.Message):
    __slots__ = ("stage", "progress")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    progress: _sampling_pb2.StepProgress
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ..., progress: _Optional[_Union[_sampling_pb2.StepProgress, _Mapping]] = ...) -> None: ...

class StageFinished(_message.Message):
    __slots__ = ("stage", "seconds", "preview_png")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PREVIEW_PNG_FIELD_NUMBER: _ClassVar[int]
    stage: Stage
    seconds: float
    preview_png: bytes
    def __init__(self, stage: _Optional[_Union[Stage, str]] = ..., seconds: _Optional[float] = ..., preview_png: _Optional[bytes] = ...) -> None: ...

class GeneratedImages(_message.Message):
    __slots__ = ("png_images", "seed", "size")
    PNG_IMAGES_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    png_images: _containers.RepeatedScalarFieldContainer[bytes]
    seed: int
    size: int
    def __init__(self, png_images: _Optional[_Iterable[bytes]] = ..., seed: _Optional[int] = ..., size: _Optional[int] = ...) -> None: ...
