"""The stage registry: every fact about a process of the mesh, written once.

Everything else that needs the list of stages (settings' default ports, the orchestrator's clients and
chain, request checks, bundle layouts, deploy rendering, the command line, certificates, the local
mesh) asks this module at the time it needs it, so a stage registered here (a test registers one)
appears everywhere. Order matters: model stages are listed in cascade order.

It imports no generated code until asked for a service or an enum value: the bundle loader reads it
inside Triton's Python backend, whose environment has a protobuf of its own.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypedDict

if TYPE_CHECKING:
    from unclip.v1 import generation_pb2

MODEL = "model"  # a stage of the cascade, serving a network from a bundle
ORCHESTRATOR = "orchestrator"  # chains the model stages; what internal callers call
GATEWAY = "gateway"  # the OpenAI Images API over HTTP, in front of the orchestrator


class PipelineDefaults(TypedDict, total=False):
    """SamplingDefaults keywords."""

    num_inference_steps: int
    guidance_scale: float


@dataclass(frozen=True)
class GrpcService:
    """A service of protos/unclip/v1: the proto file it is declared in and its name there."""

    proto: str  # e.g. "decoder" for protos/unclip/v1/decoder.proto
    name: str  # e.g. "DecoderService"

    def _module(self, suffix: str) -> ModuleType:
        return importlib.import_module(f"unclip.v1.{self.proto}{suffix}")

    @property
    def full_name(self) -> str:
        """ "unclip.v1.DecoderService": what health checks and reflection list."""
        return self._module("_pb2").DESCRIPTOR.services_by_name[self.name].full_name

    def add_to_server(self, servicer: object, server: Any) -> None:
        getattr(self._module("_pb2_grpc"), f"add_{self.name}Servicer_to_server")(servicer, server)


@dataclass(frozen=True)
class Stage:
    """One process of the mesh."""

    name: str
    port: int  # default serving port (gRPC; HTTP for the gateway)
    module: str  # the module whose main(argv) serves it
    role: str = MODEL
    service: GrpcService | None = None  # the gRPC service it serves (None: the HTTP gateway)
    folders: Mapping[str, str] = field(default_factory=dict)  # bundle role -> folder (diffusers layout)
    pipeline_defaults: PipelineDefaults = field(default_factory=PipelineDefaults)  # UnCLIPPipeline's sampling
    sampled: bool = False  # takes SamplingParams knobs (request field = its name)
    output_size: int = 0  # side in px of the images it makes (0: no images)

    @property
    def enum(self) -> generation_pb2.Stage:
        """Its value in unclip.v1.Stage, STAGE_ and its name in capitals; STAGE_UNSPECIFIED (0) for a
        process that is no stage of the cascade."""
        from unclip.v1 import generation_pb2

        try:
            return generation_pb2.Stage.Value(f"STAGE_{self.name.upper()}")
        except ValueError:
            return generation_pb2.STAGE_UNSPECIFIED


_REGISTRY: dict[str, Stage] = {}


def register(stage: Stage) -> None:
    if stage.name in _REGISTRY:
        raise ValueError(f"stage {stage.name!r} is registered already")
    _REGISTRY[stage.name] = stage


def unregister(name: str) -> None:
    del _REGISTRY[name]


def get(name: str) -> Stage:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown stage {name!r}, expected one of {', '.join(_REGISTRY)}") from None


def all_stages() -> Iterator[Stage]:
    return iter(tuple(_REGISTRY.values()))


def names(role: str | None = None) -> tuple[str, ...]:
    """Every stage's name (model stages first, in cascade order), or those of one role."""
    return tuple(s.name for s in _REGISTRY.values() if role is None or s.role == role)


def model_stages() -> tuple[str, ...]:
    return names(MODEL)


def sampled_stages() -> tuple[str, ...]:
    """Model stages that take sampling knobs, in cascade order."""
    return tuple(s.name for s in _REGISTRY.values() if s.sampled)


def image_stages() -> tuple[str, ...]:
    """Model stages that make images, smallest first: the decoder, then each upsampler."""
    return tuple(s.name for s in sorted(_REGISTRY.values(), key=lambda s: s.output_size) if s.output_size)


def upsamplers() -> tuple[str, ...]:
    return image_stages()[1:]


def stages_for_size(size: int) -> tuple[str, ...]:
    """The image stages a picture of `size` px needs: the decoder and the upsamplers up to it."""
    return tuple(name for name in image_stages() if get(name).output_size <= size)


def text_to_image_stages(size: int) -> tuple[str, ...]:
    """Every model stage a text-to-image picture of `size` px passes through, in cascade order."""
    return tuple(name for name in model_stages() if get(name).output_size <= size)


def sizes() -> tuple[int, ...]:
    return tuple(get(name).output_size for name in image_stages())


def layout() -> dict[str, dict[str, str]]:
    """Model stage -> {role: folder} of the standard (diffusers unCLIP) bundle layout; a fresh copy."""
    return {name: dict(get(name).folders) for name in model_stages()}


def by_enum(value: int) -> str:
    for stage in _REGISTRY.values():
        if stage.enum == value and stage.role == MODEL:
            return stage.name
    raise ValueError(f"unknown stage enum {value}")


for _stage in (
    Stage(
        "text_encoder",
        50051,
        "services.text_encoder.__main__",
        service=GrpcService("text_encoder", "TextEncoderService"),
        folders={"text_encoder": "text_encoder"},
    ),
    Stage(
        "prior",
        50052,
        "services.prior.__main__",
        sampled=True,
        service=GrpcService("prior", "PriorService"),
        folders={"prior": "prior", "scheduler": "prior_scheduler"},
        pipeline_defaults={"num_inference_steps": 25, "guidance_scale": 4.0},
    ),
    Stage(
        "decoder",
        50053,
        "services.decoder.__main__",
        sampled=True,
        service=GrpcService("decoder", "DecoderService"),
        folders={"decoder": "decoder", "text_proj": "text_proj", "scheduler": "decoder_scheduler"},
        pipeline_defaults={"num_inference_steps": 25, "guidance_scale": 8.0},
        output_size=64,
    ),
    Stage(
        "upsampler_256",
        50054,
        "services.upsampler.__main__",
        sampled=True,
        service=GrpcService("upsampler", "UpsamplerService"),
        folders={"first": "super_res_first", "last": "super_res_last", "scheduler": "super_res_scheduler"},
        pipeline_defaults={"num_inference_steps": 7},
        output_size=256,
    ),
    Stage(
        "upsampler_1024",
        50055,
        "services.upsampler.__main__",
        sampled=True,
        service=GrpcService("upsampler", "UpsamplerService"),
        folders={"first": "super_res_1024", "scheduler": "super_res_1024_scheduler"},
        pipeline_defaults={"num_inference_steps": 7},
        output_size=1024,
    ),
    Stage(
        "orchestrator",
        50056,
        "services.orchestrator.__main__",
        role=ORCHESTRATOR,
        service=GrpcService("generation", "GenerationService"),
    ),
    Stage("gateway", 8080, "services.gateway.__main__", role=GATEWAY),
):
    register(_stage)
