"""Malformed requests to every service (1000 each, derandomized): only INVALID_ARGUMENT,
OUT_OF_RANGE or RESOURCE_EXHAUSTED come back, the service stays healthy and its memory holds.

The stages and the orchestrator run in this process on port 0 (the orchestrator's peers are the
text encoder, prior and decoder here), each with a 4 MiB message limit. Examples are structured
requests wrong somewhere (strategies.py), random bytes as the message (which may happen to parse
into a valid request: then OK is fine too) and, rarely, a message over the limit.
"""

import collections
import contextlib
import os

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.decoder.stage import DecoderStage
from services.orchestrator.stage import OrchestratorStage
from services.prior.stage import PriorStage
from services.text_encoder.stage import TextEncoderStage
from services.upsampler.stage import UpsamplerStage
from tests.fuzz import strategies
from tests.stage_fixtures import tiny_bundle  # noqa: F401
from tests.stage_servers import running_stage

EXAMPLES = 1000
WARM_UP = 300  # examples before the memory baseline
MAX_RSS_GROWTH = 0.05
LIMIT_MB = 4
OVERSIZE = b"\x0a\x85\x80\x80\x03" + b"x" * (5 * 2**20)  # a 5 MiB prompt field
MALFORMED = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.OUT_OF_RANGE,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
}

_SERVICES = {  # service -> (stage, StageService class, {method path: structured strategy})
    "text_encoder": (
        "text_encoder",
        TextEncoderStage,
        {
            "/unclip.v1.TextEncoderService/EncodeText": strategies.encode_text(),
            "/unclip.v1.TextEncoderService/EncodeImage": strategies.encode_image(),
        },
    ),
    "prior": ("prior", PriorStage, {"/unclip.v1.PriorService/GenerateImageEmbedding": strategies.prior()}),
    "decoder": ("decoder", DecoderStage, {"/unclip.v1.DecoderService/DecodeImage": strategies.decoder()}),
    **{
        stage: (stage, UpsamplerStage, {"/unclip.v1.UpsamplerService/UpsampleImage": strategies.upsampler()})
        for stage in ("upsampler_256", "upsampler_1024")
    },
    "orchestrator": (
        "orchestrator",
        OrchestratorStage,
        {
            "/unclip.v1.GenerationService/GenerateImages": strategies.generate_images(),
            "/unclip.v1.GenerationService/CreateVariations": strategies.create_variations(),
        },
    ),
}
_STREAMING = ("GenerateImageEmbedding", "DecodeImage", "UpsampleImage", "GenerateImages", "CreateVariations")


@pytest.fixture(scope="module")
def channels(tiny_bundle):  # noqa: F811
    with contextlib.ExitStack() as stack:
        opened = {}
        for service in ("text_encoder", "prior", "decoder", "upsampler_256", "upsampler_1024"):
            stage, make_service, _ = _SERVICES[service]
            opened[service] = stack.enter_context(
                running_stage(stage, make_service, tiny_bundle.root, max_message_mb=LIMIT_MB)
            )
        peers = {s: [_target(opened[s])] for s in ("text_encoder", "prior", "decoder")}
        opened["orchestrator"] = stack.enter_context(
            running_stage(
                "orchestrator", OrchestratorStage, tiny_bundle.root, max_message_mb=LIMIT_MB, peers=peers
            )
        )
        yield opened


def _target(channel: grpc.Channel) -> str:
    """The address a running_stage channel was opened to (its server's port 0 binding)."""
    return channel._channel.target().decode()


def _rss() -> int:
    with open(f"/proc/{os.getpid()}/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _code(channel: grpc.Channel, method: str, payload: bytes) -> grpc.StatusCode:
    streaming = method.rsplit("/", 1)[1] in _STREAMING
    call = (channel.unary_stream if streaming else channel.unary_unary)(method)
    try:
        response = call(payload, timeout=60)
        if streaming:
            list(response)
    except grpc.RpcError as error:
        return error.code()
    return grpc.StatusCode.OK


@pytest.mark.parametrize("service", list(_SERVICES))
def test_malformed_requests(channels, service):
    channel = channels[service]
    methods = _SERVICES[service][2]
    structured = st.sampled_from(sorted(methods)).flatmap(
        lambda m: methods[m].map(lambda message: (m, message.SerializeToString(), MALFORMED))
    )
    raw = st.tuples(
        st.sampled_from(sorted(methods)), st.binary(max_size=512), st.just(MALFORMED | {grpc.StatusCode.OK})
    )
    oversize = st.tuples(st.sampled_from(sorted(methods)), st.just(OVERSIZE), st.just(MALFORMED))
    examples = st.sampled_from(["structured"] * 6 + ["raw"] * 3 + ["oversize"]).flatmap(
        {"structured": structured, "raw": raw, "oversize": oversize}.__getitem__
    )
    seen: collections.Counter = collections.Counter()
    memory: list[int] = []

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(examples)
    def one(example):
        method, payload, allowed = example
        code = _code(channel, method, payload)
        seen[code.name] += 1
        assert code in allowed, (method, code, payload[:200])
        if sum(seen.values()) == WARM_UP:
            memory.append(_rss())

    one()
    grown = _rss() / memory[0] - 1
    print(f"\n{service}: {sum(seen.values())} requests {dict(seen)}, RSS after warm-up {grown:+.2%}")
    assert sum(seen.values()) >= EXAMPLES
    assert grown < MAX_RSS_GROWTH
    status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert status.status == health_pb2.HealthCheckResponse.SERVING
