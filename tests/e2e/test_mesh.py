"""The whole mesh as six processes on loopback, on a tiny random bundle."""

import io
import math
import subprocess
import sys

import grpc
import numpy as np
import pytest
import torch
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image

from tests.e2e.conftest import FAST
from unclip.v1 import generation_pb2, generation_pb2_grpc
from unclip_mesh.client.sdk import Sampling

pytestmark = pytest.mark.e2e


def test_prompt_to_1024_png_with_progress(client):
    events = list(client.generate_events("a red circle", seed=1, stages=FAST, timeout=120))
    kinds = [e.WhichOneof("kind") for e in events]
    started = [e.stage_started.stage for e in events if e.HasField("stage_started")]
    assert started == [
        generation_pb2.STAGE_TEXT_ENCODER,
        generation_pb2.STAGE_PRIOR,
        generation_pb2.STAGE_DECODER,
        generation_pb2.STAGE_UPSAMPLER_256,
        generation_pb2.STAGE_UPSAMPLER_1024,
    ]
    assert kinds.count("step_progress") == 8 and kinds[-1] == "result"
    previews = [e.stage_finished.preview_png for e in events if e.HasField("stage_finished")]
    assert Image.open(io.BytesIO(previews[2])).size == (64, 64)
    image = Image.open(io.BytesIO(events[-1].result.png_images[0]))
    assert image.size == (1024, 1024) and image.mode == "RGB"
    assert events[-1].result.seed == 1


def test_same_seed_same_bytes_other_seed_differs(client):
    first = client.generate("a blue square", seed=42, size=256, stages=FAST)
    again = client.generate("a blue square", seed=42, size=256, stages=FAST)
    other = client.generate("a blue square", seed=43, size=256, stages=FAST)
    assert first.png_images == again.png_images
    assert first.png_images != other.png_images


def test_mesh_equals_the_stages_called_in_one_process(mesh, client):
    from services.inprocess_cascade import InProcessCascade, StageKnobs

    cascade = InProcessCascade.open(mesh.bundle)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the stage processes run: results are equal at equal thread counts
    try:
        local = cascade.generate(
            "a red circle",
            num_images=2,
            size=256,
            seed=9,
            stages={stage: StageKnobs(steps=2) for stage in FAST},
        )
    finally:
        torch.set_num_threads(threads)
    remote = client.generate("a red circle", num_images=2, size=256, seed=9, stages=FAST)
    for png, pixels in zip(remote.png_images, local.images, strict=True):
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), pixels.permute(1, 2, 0).numpy())


def test_the_1024_hop_goes_through_shared_memory_and_leaves_nothing_behind(client, shared_memory_dir):
    """Only the last hop (3 MB of 1024 px pixels) is large enough for a region; the directory's
    mtime moves when a region is made and removed, and only the orchestrator's marker stays."""
    before = shared_memory_dir.stat().st_mtime_ns
    small = client.generate("a red circle", seed=3, size=256, stages=FAST)
    assert shared_memory_dir.stat().st_mtime_ns == before
    large = client.generate("a red circle", seed=3, stages=FAST)
    assert shared_memory_dir.stat().st_mtime_ns > before
    assert [p.name.startswith("unclip-marker-") for p in shared_memory_dir.iterdir()] == [True]
    assert Image.open(io.BytesIO(large.png_images[0])).size == (1024, 1024) and small.size == 256


def test_several_images_at_64px(client):
    result = client.generate("a green triangle", num_images=3, size=64, seed=5, stages=FAST)
    assert len(result.png_images) == 3 and len(set(result.png_images)) == 3
    assert all(Image.open(io.BytesIO(png)).size == (64, 64) for png in result.png_images)


def _request(**changes):
    request = generation_pb2.GenerateImagesRequest(
        prompt="a red circle", seed=1, size=generation_pb2.IMAGE_SIZE_64
    )
    for stage in ("prior", "decoder"):
        getattr(request, stage).num_inference_steps = 2
    for path, value in changes.items():
        target = request
        *parents, leaf = path.split("__")
        for name in parents:
            target = getattr(target, name)
        setattr(target, leaf, value)
    return request


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"prompt": "  "}, "prompt"),
        ({"prompt": "x" * 5000}, "prompt"),
        ({"num_images": 99}, "num_images"),
        ({"num_images": -1}, "num_images"),
        ({"size": 512}, "size"),
        ({"decoder__num_inference_steps": 0}, "decoder.num_inference_steps"),
        ({"prior__num_inference_steps": 5000}, "prior.num_inference_steps"),
        ({"prior__guidance_scale": math.nan}, "prior.guidance_scale"),
        ({"decoder__scheduler": 42}, "decoder.scheduler"),
    ],
)
def test_bad_input_gets_invalid_argument_naming_the_field(mesh, changes, field):
    channel = grpc.insecure_channel(mesh.target)
    stub = generation_pb2_grpc.GenerationServiceStub(channel)
    with pytest.raises(grpc.RpcError) as error:
        list(stub.GenerateImages(_request(**changes), timeout=60))
    assert error.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.value.details().startswith(field), error.value.details()
    health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    assert list(stub.GenerateImages(_request(), timeout=60))[-1].event.HasField("result")


def test_scheduler_choice_changes_the_image(client):
    ddim = {**FAST, "decoder": Sampling(steps=2, scheduler="ddim")}
    assert (
        client.generate("a red circle", seed=1, size=64, stages=FAST).png_images
        != client.generate("a red circle", seed=1, size=64, stages=ddim).png_images
    )


def test_cli_generate_against_the_mesh(mesh, tmp_path):
    out = tmp_path / "cli.png"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "generate",
            "a red circle",
            "--target",
            mesh.target,
            "--size",
            "64",
            "--seed",
            "3",
            "--prior-steps",
            "2",
            "--decoder-steps",
            "2",
            "-o",
            str(out),
        ],
        check=True,
        timeout=120,
    )
    assert Image.open(out).size == (64, 64)


def test_a_stage_that_is_down_is_unavailable_by_name_and_recovers(mesh, client):
    process = mesh.stage_processes("upsampler_1024")[0]
    process.popen.terminate()
    process.popen.wait(timeout=30)
    with pytest.raises(grpc.RpcError) as error:
        client.generate("a red circle", seed=1, size=1024, stages=FAST, timeout=60)
    assert error.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "upsampler_1024" in error.value.details()
    mesh.restart(process)  # same address; the orchestrator is not restarted
    assert client.generate("a red circle", seed=1, size=1024, stages=FAST, timeout=120).size == 1024
