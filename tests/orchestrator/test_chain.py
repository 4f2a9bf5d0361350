"""The text-to-image chain against fake stages: which stages it calls with what, the events it
streams, the generator state it hands on, and how it meets replicas down, stage errors, deadlines
and a caller who goes away."""

import asyncio
import io

import grpc
import pytest
from PIL import Image

from services import stage_registry
from services.orchestrator.chain import RETRY_BACKOFF_SECONDS
from services.runtime.shared_memory import METADATA_KEY, SharedMemory
from tests.orchestrator.conftest import servicer_over
from tests.orchestrator.fake_caller import FakeServicerContext, ask
from tests.orchestrator.fake_channel import CANCELLED
from tests.orchestrator.fake_stages import FakeMesh, Fault
from unclip.v1 import generation_pb2, sampling_pb2, tensor_pb2

SIZE_STAGES = {
    64: ("decoder",),
    256: ("decoder", "upsampler_256"),
    1024: ("decoder", "upsampler_256", "upsampler_1024"),
}
HOP_DTYPES = {  # what each image stage is asked to send: exact floats out of the decoder, uint8 last
    64: [tensor_pb2.DATA_TYPE_UINT8],
    256: [tensor_pb2.DATA_TYPE_FLOAT32, tensor_pb2.DATA_TYPE_UINT8],
    1024: [tensor_pb2.DATA_TYPE_FLOAT32, tensor_pb2.DATA_TYPE_FLOAT16, tensor_pb2.DATA_TYPE_UINT8],
}
KNOBS = {
    "prior": sampling_pb2.SamplingParams(num_inference_steps=3, guidance_scale=4.5),
    "decoder": sampling_pb2.SamplingParams(
        num_inference_steps=4, guidance_scale=7.0, scheduler=sampling_pb2.SCHEDULER_DDIM
    ),
    "upsampler_256": sampling_pb2.SamplingParams(num_inference_steps=5),
    "upsampler_1024": sampling_pb2.SamplingParams(num_inference_steps=1),
}
SECONDS = {"text_encoder": 0.5, "prior": 2.0, "decoder": 4.0, "upsampler_256": 8.0, "upsampler_1024": 16.0}


def text_to_image(size: int = 256, **fields) -> generation_pb2.GenerateImagesRequest:
    return generation_pb2.GenerateImagesRequest(prompt="a red panda", size=size, **fields)


def timeline(events: list[generation_pb2.GenerationEvent]) -> list[tuple]:
    """The events in short: ("started", stage), ("step", stage, step, total), ("finished", stage,
    seconds), ("result", images, size)."""
    short = []
    for event in events:
        kind = event.WhichOneof("kind")
        if kind == "stage_started":
            short.append(("started", stage_registry.by_enum(event.stage_started.stage)))
        elif kind == "step_progress":
            step = event.step_progress
            short.append(
                ("step", stage_registry.by_enum(step.stage), step.progress.step, step.progress.total_steps)
            )
        elif kind == "stage_finished":
            finished = event.stage_finished
            short.append(("finished", stage_registry.by_enum(finished.stage), finished.seconds))
        else:
            short.append(("result", len(event.result.png_images), event.result.size))
    return short


def expected_timeline(stages: tuple[str, ...], count: int, size: int) -> list[tuple]:
    short = [("started", "text_encoder"), ("finished", "text_encoder", SECONDS["text_encoder"])]
    for stage in ("prior", *stages):
        steps = KNOBS[stage].num_inference_steps
        short += [
            ("started", stage),
            *[("step", stage, n, steps) for n in range(1, steps + 1)],
            ("finished", stage, SECONDS[stage]),
        ]
    return [*short, ("result", count, size)]


def picture_sides(pngs) -> set[tuple[int, int, str]]:
    return {(image.width, image.height, image.mode) for image in map(Image.open, map(io.BytesIO, pngs))}


@pytest.mark.parametrize("size", SIZE_STAGES)
def test_each_size_calls_its_stages_in_order_with_their_knobs_and_hop_dtypes(servicer, mesh, size):
    answer = ask(servicer.GenerateImages, text_to_image(size, num_images=2, **KNOBS))
    assert answer.code == grpc.StatusCode.OK
    assert [stage for stage, _ in mesh.called()] == ["text_encoder", "prior", *SIZE_STAGES[size]]
    assert mesh.calls_to("text_encoder")[0].request.prompts == ["a red panda"]
    for stage in ("prior", *SIZE_STAGES[size]):
        assert mesh.calls_to(stage)[0].request.sampling == KNOBS[stage], stage
    assert [mesh.calls_to(stage)[0].request.output_dtype for stage in SIZE_STAGES[size]] == HOP_DTYPES[size]


@pytest.mark.parametrize("size", SIZE_STAGES)
def test_the_event_stream_has_each_stages_progress_and_timing_then_the_images(servicer, mesh, size):
    mesh.seconds.update(SECONDS)
    answer = ask(servicer.GenerateImages, text_to_image(size, num_images=3, seed=5, **KNOBS))
    assert timeline(answer.events) == expected_timeline(SIZE_STAGES[size], 3, size)
    previews = {
        stage_registry.by_enum(e.stage_finished.stage): e.stage_finished.preview_png
        for e in answer.events
        if e.HasField("stage_finished")
    }
    assert previews["text_encoder"] == previews["prior"] == b""
    assert picture_sides(previews[stage] for stage in SIZE_STAGES[size]) == {(64, 64, "RGB")}
    assert answer.result.seed == 5 and picture_sides(answer.result.png_images) == {(size, size, "RGB")}


def test_the_text_encoding_is_repeated_for_each_image_asked(servicer, mesh):
    ask(servicer.GenerateImages, text_to_image(num_images=3))
    (prior,) = mesh.calls_to("prior")
    assert prior.request.text.text_embedding.shape[0] == 3
    (decoder,) = mesh.calls_to("decoder")
    assert decoder.request.text == prior.request.text
    assert decoder.request.unconditional == prior.request.unconditional


def test_each_stage_resumes_the_generator_state_and_takes_the_output_the_previous_stage_returned(
    servicer, mesh
):
    answer = ask(servicer.GenerateImages, text_to_image(1024, seed=7))
    prior, decoder, up_256, up_1024 = (
        mesh.calls_to(stage)[0] for stage in ("prior", "decoder", "upsampler_256", "upsampler_1024")
    )
    assert prior.request.random.seed == 7 == answer.result.seed
    assert decoder.request.image_embeddings == prior.replies[-1].result.image_embeddings
    for previous, following in ((prior, decoder), (decoder, up_256), (up_256, up_1024)):
        returned = previous.replies[-1].result.generator_state
        assert returned and following.request.random.generator_state == returned
    for previous, following in ((decoder, up_256), (up_256, up_1024)):
        assert following.request.images == previous.replies[-1].result.images


def test_without_a_seed_the_seed_the_prior_drew_from_is_reported(servicer, mesh):
    answer = ask(servicer.GenerateImages, text_to_image(64))
    assert answer.result.seed == mesh.calls_to("prior")[0].request.random.seed


def test_upsamplers_may_reply_through_shared_memory_and_the_chain_removes_each_region(clock, tmp_path):
    shared = SharedMemory(tmp_path, min_bytes=1)
    mesh = FakeMesh(clock, shared=shared)
    answer = ask(servicer_over(mesh, shared).GenerateImages, text_to_image(1024))
    assert picture_sides(answer.result.png_images) == {(1024, 1024, "RGB")}
    marker = ((METADATA_KEY, shared.marker()),)
    assert [c.metadata for c in mesh.calls] == [(), (), (), marker, marker]
    assert all(
        c.replies[-1].result.images.HasField("shared_memory")
        for c in mesh.calls_to("upsampler_256") + mesh.calls_to("upsampler_1024")
    )
    assert [path.name for path in tmp_path.iterdir()] == [shared.marker()]


@pytest.mark.parametrize(
    "stage, fault",
    [
        ("text_encoder", Fault()),
        ("prior", Fault(progress=1)),
        ("decoder", Fault()),
        ("upsampler_256", Fault(progress=2)),
    ],
)
def test_an_unavailable_replica_is_retried_on_the_next_and_the_request_succeeds(
    servicer, mesh, clock, stage, fault
):
    mesh.faults[f"{stage}-0"] = fault
    answer = ask(servicer.GenerateImages, text_to_image(256))
    assert answer.code == grpc.StatusCode.OK and answer.result.size == 256
    assert [(c.address, c.outcome) for c in mesh.calls_to(stage)] == [
        (f"{stage}-0", "UNAVAILABLE"),
        (f"{stage}-1", "OK"),
    ]
    assert clock.sleeps == list(RETRY_BACKOFF_SECONDS[:1])


def test_every_replica_down_ends_unavailable_naming_the_stage_after_the_last_backoff(servicer, mesh, clock):
    mesh.faults.update({address: Fault() for address in mesh.addresses["decoder"]})
    answer = ask(servicer.GenerateImages, text_to_image(256))
    assert answer.code == grpc.StatusCode.UNAVAILABLE
    assert answer.failure.stage == "decoder" and "decoder" in answer.details
    attempts = len(RETRY_BACKOFF_SECONDS) + 1
    assert [c.address for c in mesh.calls_to("decoder")] == ["decoder-0", "decoder-1"] * (attempts // 2)
    assert clock.sleeps == list(RETRY_BACKOFF_SECONDS)
    assert not mesh.calls_to("upsampler_256")


def test_a_stage_with_no_reachable_replica_fails_naming_it_before_any_stage_is_called(servicer, mesh, clock):
    for address in mesh.addresses["upsampler_256"]:
        mesh.channels[address].connectivity = grpc.ChannelConnectivity.TRANSIENT_FAILURE
    answer = ask(servicer.GenerateImages, text_to_image(256))
    assert answer.code == grpc.StatusCode.UNAVAILABLE and answer.failure.stage == "upsampler_256"
    assert mesh.calls == [] and clock.sleeps == []


def test_a_failed_call_is_not_retried_once_no_replica_can_be_reached(servicer, mesh, clock):
    """The decoder's replicas die: the call fails, and their channels refuse connections since."""
    mesh.faults.update({address: Fault(gone=True) for address in mesh.addresses["decoder"]})
    answer = ask(servicer.GenerateImages, text_to_image(64))
    assert answer.code == grpc.StatusCode.UNAVAILABLE and answer.failure.stage == "decoder"
    assert [c.address for c in mesh.calls_to("decoder")] == ["decoder-0", "decoder-1"]
    assert clock.sleeps == list(RETRY_BACKOFF_SECONDS[:1])


def test_a_retry_does_not_back_off_beyond_the_deadline(servicer, mesh, clock):
    """Text encoder and prior take 1 s each: of 2.5 s, 0.5 s are left for the decoder's retries."""
    mesh.faults.update({address: Fault() for address in mesh.addresses["decoder"]})
    left = 0.5 + sum(RETRY_BACKOFF_SECONDS[:-1])
    answer = ask(servicer.GenerateImages, text_to_image(64), time_remaining=2.0 + left)
    assert answer.code == grpc.StatusCode.UNAVAILABLE and answer.failure.stage == "decoder"
    assert clock.sleeps == list(RETRY_BACKOFF_SECONDS[:-1])
    assert len(mesh.calls_to("decoder")) == len(RETRY_BACKOFF_SECONDS)


def test_invalid_argument_from_a_stage_is_not_retried(servicer, mesh, clock):
    mesh.faults["decoder-0"] = Fault(grpc.StatusCode.INVALID_ARGUMENT, "sampling.guidance_scale: too large")
    answer = ask(servicer.GenerateImages, text_to_image(256))
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT and answer.failure.stage == "decoder"
    assert [c.address for c in mesh.calls_to("decoder")] == ["decoder-0"]
    assert clock.sleeps == [] and not mesh.calls_to("upsampler_256")


def test_the_remaining_deadline_reaches_each_stage_call_as_its_timeout(servicer, mesh):
    mesh.seconds.update(SECONDS)
    ask(servicer.GenerateImages, text_to_image(1024), time_remaining=100.0)
    assert [c.timeout for c in mesh.calls] == [100.0, 99.5, 97.5, 93.5, 85.5]


def test_without_a_deadline_stage_calls_have_no_timeout(servicer, mesh):
    ask(servicer.GenerateImages, text_to_image(1024))
    assert [c.timeout for c in mesh.calls] == [None] * 5


def test_a_stage_outlasting_the_deadline_ends_deadline_exceeded_and_is_not_retried(servicer, mesh):
    mesh.seconds["decoder"] = 20.0
    answer = ask(servicer.GenerateImages, text_to_image(256), time_remaining=10.0)
    assert answer.code == grpc.StatusCode.DEADLINE_EXCEEDED and answer.failure.stage == "decoder"
    assert [c.outcome for c in mesh.calls_to("decoder")] == ["DEADLINE_EXCEEDED"]
    assert not mesh.calls_to("upsampler_256")


def test_a_deadline_spent_between_stages_ends_deadline_exceeded_before_the_next_call(servicer, mesh):
    answer = ask(servicer.GenerateImages, text_to_image(256), time_remaining=2.0)  # 1 s a stage
    assert answer.code == grpc.StatusCode.DEADLINE_EXCEEDED and "decoder" in answer.details
    assert [stage for stage, _ in mesh.called()] == ["text_encoder", "prior"]


def test_a_caller_cancelling_mid_stream_stops_the_stage_call(servicer, mesh):
    mesh.faults["decoder-0"] = Fault(progress=1, stall=True)
    received = []

    async def cancel_during_the_decoder():
        async def drain():
            async for response in servicer.GenerateImages(text_to_image(256), FakeServicerContext(None)):
                received.append(response.event)

        caller = asyncio.create_task(drain())
        await asyncio.wait_for(mesh.stalled.wait(), timeout=30)
        caller.cancel()
        with pytest.raises(asyncio.CancelledError):
            await caller

    asyncio.run(cancel_during_the_decoder())
    assert [c.outcome for c in mesh.calls_to("decoder")] == [CANCELLED]
    assert not mesh.calls_to("upsampler_256")
    assert timeline(received)[-1] == ("step", "decoder", 1, 2)
