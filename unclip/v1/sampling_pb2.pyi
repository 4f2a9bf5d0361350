from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Scheduler(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCHEDULER_UNSPECIFIED: _ClassVar[Scheduler]
    SCHEDULER_UNCLIP: _ClassVar[Scheduler]
    SCHEDULER_DDPM: _ClassVar[Scheduler]
    SCHEDULER_DDIM: _ClassVar[Scheduler]
    SCHEDULER_DPM_SOLVER_PP: _ClassVar[Scheduler]
SCHEDULER_UNSPECIFIED: Scheduler
SCHEDULER_UNCLIP: Scheduler
SCHEDULER_DDPM: Scheduler
SCHEDULER_DDIM: Scheduler
SCHEDULER_DPM_SOLVER_PP: Scheduler

class SamplingParams(_message.Message):
    __slots__ = ("num_inference_steps", "guidance_scale", "scheduler", "eta")
    NUM_INFERENCE_STEPS_FIELD_NUMBER: _ClassVar[int]
    GUIDANCE_SCALE_FIELD_NUMBER: _ClassVar[int]
    SCHEDULER_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    num_inference_steps: int
    guidance_scale: float
    scheduler: Scheduler
    eta: float
    def __init__(self, num_inference_steps: _Optional[int] = ..., guidance_scale: _Optional[float] = ..., scheduler: _Optional[_Union[Scheduler, str]] = ..., eta: _Optional[float] = ...) -> None: ...

class RandomState(_message.Message):
    __slots__ = ("seed", "generator_state")
    SEED_FIELD_NUMBER: _ClassVar[int]
    GENERATOR_STATE_FIELD_NUMBER: _ClassVar[int]
    seed: int
    generator_state: bytes
    def __init__(self, seed: _Optional[int] = ..., generator_state: _Optional[bytes] = ...) -> None: ...

class StepProgress(_message.Message):
    __slots__ = ("step", "total_steps")
    STEP_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STEPS_FIELD_NUMBER: _ClassVar[int]
    step: int
    total_steps: int
    def __init__(self, step: _Optional[int] = ..., total_steps: _Optional[int] = ...) -> None: ...
