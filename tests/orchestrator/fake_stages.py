"""Fake stage services for the orchestrator's unit tests: no model, no network.

FakeMesh answers the stage stubs' calls on fake channels (fake_channel.FakeChannel), several
replicas per stage, with small tensors of the shapes the real stages send: the text encoder's rows
are drawn from each prompt's (or image's) own seed; the prior, the decoder and the upsamplers
stream `num_inference_steps` progress messages (DEFAULT_STEPS when unset), take `seconds[stage]`
on the clock, then send a result whose generator state names the call that made it; images go
through `shared` memory when the call's metadata names a marker there, as the real stages do. A Fault
in `faults` makes a replica fail or stall on every call.
"""

import asyncio
import zlib
from dataclasses import dataclass

import grpc
import torch
import torch.nn.functional as F
from google.protobuf.message import Message

from services import stage_registry
from services.orchestrator.stage_clients import MeshClients
from services.runtime.image_dtype import cast_images, to_float
from services.runtime.shared_memory import SharedMemory, for_reply
from services.runtime.tensor_codec import from_proto, to_proto
from tests.orchestrator.fake_channel import Call, FakeChannel, FakeClock, StageFailure
from unclip.v1 import (
    decoder_pb2,
    prior_pb2,
    sampling_pb2,
    text_encoder_pb2,
    upsampler_pb2,
)

EMBEDDING_WIDTH = 8
TOKENS = 4
TOKEN_WIDTH = 6
DEFAULT_STEPS = 2
MAX_MESSAGE_BYTES = 64 * 1024 * 1024


def _service(module, name: str) -> str:
    return module.DESCRIPTOR.services_by_name[name].full_name


def _service_of(stage: str) -> str:
    if stage in stage_registry.upsamplers():
        return _service(upsampler_pb2, "UpsamplerService")
    return {
        "text_encoder": _service(text_encoder_pb2, "TextEncoderService"),
        "prior": _service(prior_pb2, "PriorService"),
        "decoder": _service(decoder_pb2, "DecoderService"),
    }[stage]


@dataclass(frozen=True)
class Fault:
    """How one replica answers every call: `progress` progress messages (streaming calls), then the
    status `code`; with `stall`, no end at all until the caller cancels; with `gone`, its channel
    fails to connect from then on (the replica was killed)."""

    code: grpc.StatusCode = grpc.StatusCode.UNAVAILABLE
    details: str = "connection refused"
    progress: int = 0
    stall: bool = False
    gone: bool = False


def drawn(key: str | bytes, *shape: int) -> torch.Tensor:
    """A float32 tensor of `shape` drawn from `key`'s own seed: the same key gives the same rows."""
    seed = zlib.crc32(key.encode() if isinstance(key, str) else key)
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def text_encoding(prompts: list[str]) -> text_encoder_pb2.TextEncoding:
    return text_encoder_pb2.TextEncoding(
        text_embedding=to_proto(torch.stack([drawn(p, EMBEDDING_WIDTH) for p in prompts])),
        token_states=to_proto(torch.stack([drawn(p, TOKENS, TOKEN_WIDTH) for p in prompts])),
        attention_mask=to_proto(torch.ones(len(prompts), TOKENS, dtype=torch.bool)),
    )


def encode_text(call: Call) -> text_encoder_pb2.EncodeTextResponse:
    prompts = list(call.request.prompts)
    return text_encoder_pb2.EncodeTextResponse(
        prompts=text_encoding(prompts), unconditional=text_encoding([""]), truncated=[False] * len(prompts)
    )


def encode_image(call: Call) -> text_encoder_pb2.EncodeImageResponse:
    pixels = from_proto(call.request.images, "images")
    return text_encoder_pb2.EncodeImageResponse(
        image_embeddings=to_proto(
            torch.stack([drawn(image.numpy().tobytes(), EMBEDDING_WIDTH) for image in pixels])
        )
    )


def image_embeddings(call: Call, state: bytes, shared: SharedMemory | None) -> prior_pb2.ImageEmbeddings:
    text = from_proto(call.request.text.text_embedding, "text.text_embedding")
    return prior_pb2.ImageEmbeddings(image_embeddings=to_proto(-text), generator_state=state)


def decode_image(call: Call, state: bytes, shared: SharedMemory | None) -> decoder_pb2.Images:
    """Each image one colour, from its embedding's first three values."""
    embeddings = from_proto(call.request.image_embeddings, "image_embeddings")
    side = stage_registry.get("decoder").output_size
    images = torch.tanh(embeddings[:, :3])[:, :, None, None].expand(-1, 3, side, side)
    return decoder_pb2.Images(
        images=to_proto(cast_images(images, call.request.output_dtype), shared), generator_state=state
    )


def invert_image(call: Call, state: bytes, shared: SharedMemory | None) -> Message:
    images = from_proto(call.request.images, "images")
    return to_proto(drawn(images.numpy().tobytes(), *images.shape))


def upsample_image(call: Call, state: bytes, shared: SharedMemory | None) -> decoder_pb2.Images:
    """The images enlarged, nearest neighbour, to the stage's side."""
    low = to_float(from_proto(call.request.images, "images"))
    side = stage_registry.get(call.stage).output_size
    high = F.interpolate(low, size=(side, side), mode="nearest")
    return decoder_pb2.Images(
        images=to_proto(cast_images(high, call.request.output_dtype), shared), generator_state=state
    )


_UNARY = {"EncodeText": encode_text, "EncodeImage": encode_image}
_STREAMING = {  # method -> (its response message, the result it ends with)
    "GenerateImageEmbedding": (prior_pb2.GenerateImageEmbeddingResponse, image_embeddings),
    "DecodeImage": (decoder_pb2.DecodeImageResponse, decode_image),
    "InvertImage": (decoder_pb2.InvertImageResponse, invert_image),
    "UpsampleImage": (upsampler_pb2.UpsampleImageResponse, upsample_image),
}


def steps_of(request: Message) -> int:
    """The progress messages a diffusion call sends: its num_inference_steps, else DEFAULT_STEPS."""
    knobs = request if request.DESCRIPTOR.name == "InvertImageRequest" else request.sampling
    return knobs.num_inference_steps if knobs.HasField("num_inference_steps") else DEFAULT_STEPS


class FakeMesh:
    """`replicas` fake replicas of each of `stages` (addresses "STAGE-INDEX"); `calls` records every
    call in order; `stalled` is set once a stalling replica has sent what it sends."""

    def __init__(
        self,
        clock: FakeClock,
        stages: tuple[str, ...] | None = None,
        replicas: int = 2,
        shared: SharedMemory | None = None,
    ):
        self.clock = clock
        self.shared = shared
        stages = stage_registry.model_stages() if stages is None else stages
        self.addresses = {stage: [f"{stage}-{index}" for index in range(replicas)] for stage in stages}
        self.seconds = dict.fromkeys(stages, 1.0)
        self.faults: dict[str, Fault] = {}
        self.calls: list[Call] = []
        self.channels: dict[str, FakeChannel] = {}  # by address, once the clients have opened them
        self.stalled = asyncio.Event()

    def clients(self) -> MeshClients:
        return MeshClients(self.addresses, MAX_MESSAGE_BYTES, open_channel=self._open_channel)

    def calls_to(self, stage: str, method: str | None = None) -> list[Call]:
        return [c for c in self.calls if c.stage == stage and method in (None, c.method)]

    def called(self) -> list[tuple[str, str]]:
        """(stage, method) of every call, in order."""
        return [(c.stage, c.method) for c in self.calls]

    def _open_channel(self, stage: str, address: str, options, credentials) -> FakeChannel:
        self.channels[address] = FakeChannel(stage, address, self._serve, self.clock)
        return self.channels[address]

    def _serve(self, call: Call):
        self.calls.append(call)
        return self._reply(call) if call.method in _UNARY else self._replies(call)

    async def _reply(self, call: Call) -> Message:
        await self._misbehave(call, self.faults.get(call.address))
        self.clock.advance(self.seconds[call.stage])
        return _UNARY[call.method](call)

    async def _replies(self, call: Call):
        response, result = _STREAMING[call.method]
        state = f"{call.address} call {len(self.calls)}".encode()
        steps, fault = steps_of(call.request), self.faults.get(call.address)
        for step in range(fault.progress if fault else steps):
            yield response(progress=sampling_pb2.StepProgress(step=step + 1, total_steps=steps))
        await self._misbehave(call, fault)
        self.clock.advance(self.seconds[call.stage])
        yield response(result=result(call, state, for_reply(self.shared, call.metadata)))

    async def _misbehave(self, call: Call, fault: Fault | None) -> None:
        """Fails as a real server would on a stub of another service, or as `fault` says."""
        if call.service != _service_of(call.stage):
            raise StageFailure(grpc.StatusCode.UNIMPLEMENTED, f"{call.service} is not served here")
        if fault is None:
            return
        if fault.stall:
            self.stalled.set()
            await asyncio.get_running_loop().create_future()
        if fault.gone:
            self.channels[call.address].connectivity = grpc.ChannelConnectivity.TRANSIENT_FAILURE
        raise StageFailure(fault.code, fault.details)
