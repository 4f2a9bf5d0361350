"""The image flows (variations, interpolation, edit, inpaint) against fake stages: each calls the
stages its flow needs and no others, hands them what the previous ones returned, shares the chain's
retries and deadlines, and refuses bad input before calling any stage."""

import io

import grpc
import pytest
import torch
from PIL import Image

from services.runtime.tensor_codec import from_proto
from tests.orchestrator.conftest import servicer_over
from tests.orchestrator.fake_caller import ask
from tests.orchestrator.fake_stages import FakeMesh, Fault
from unclip.v1 import generation_pb2, sampling_pb2

TEXT = ("text_encoder", "EncodeText")
IMAGE = ("text_encoder", "EncodeImage")
PRIOR = ("prior", "GenerateImageEmbedding")
INVERT = ("decoder", "InvertImage")
DECODE = ("decoder", "DecodeImage")
UPSAMPLE_256 = ("upsampler_256", "UpsampleImage")
COLOUR = (200, 30, 90)


def png(colour: tuple[int, int, int] = COLOUR, mode: str = "RGB", size=(80, 60)) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size, colour).save(buffer, format="PNG")
    return buffer.getvalue()


def picture(encoded: bytes) -> Image.Image:
    return Image.open(io.BytesIO(encoded)).convert("RGB")


def tensor(message, field: str = "field") -> torch.Tensor:
    return from_proto(message, field)


def only(mesh: FakeMesh, stage_method: tuple[str, str]):
    (call,) = mesh.calls_to(*stage_method)
    return call


def variations(**fields) -> generation_pb2.CreateVariationsRequest:
    return generation_pb2.CreateVariationsRequest(
        image=generation_pb2.ImageInput(encoded=png()), size=256, seed=9, **fields
    )


def test_variations_encode_the_image_and_decode_its_embedding_without_the_prior(servicer, mesh):
    mesh.seconds["text_encoder"] = 0.5
    answer = ask(servicer.CreateVariations, variations(num_images=2))
    assert answer.code == grpc.StatusCode.OK
    assert mesh.called() == [TEXT, IMAGE, DECODE, UPSAMPLE_256]
    assert only(mesh, TEXT).request.prompts == [""]
    embedding = tensor(only(mesh, IMAGE).replies[-1].image_embeddings)
    decode = only(mesh, DECODE).request
    assert torch.equal(tensor(decode.image_embeddings), embedding.repeat(2, 1))
    assert decode.random.seed == 9 and not decode.HasField("latents")
    finished = [e.stage_finished for e in answer.events if e.HasField("stage_finished")]
    assert finished[0].seconds == 1.0  # the prompt's encoding and the image's, one stage
    assert len(answer.result.png_images) == 2 and answer.result.size == 256


def test_variations_are_served_by_a_mesh_without_a_prior(clock):
    mesh = FakeMesh(clock, stages=("text_encoder", "decoder", "upsampler_256"))
    answer = ask(servicer_over(mesh).CreateVariations, variations())
    assert answer.code == grpc.StatusCode.OK and answer.result.size == 256


def test_variations_with_eta_decode_from_the_images_inverted_noise_with_ddim(servicer, mesh):
    answer = ask(servicer.CreateVariations, variations(num_images=2, eta=0.3))
    assert answer.code == grpc.StatusCode.OK
    assert mesh.called() == [TEXT, IMAGE, INVERT, DECODE, UPSAMPLE_256]
    invert, decode = only(mesh, INVERT), only(mesh, DECODE).request
    assert list(invert.request.images.shape) == [1, 3, 64, 64]
    assert invert.request.text == only(mesh, TEXT).replies[-1].unconditional
    assert torch.equal(tensor(decode.latents), tensor(invert.replies[-1].result).repeat(2, 1, 1, 1))
    assert decode.sampling.scheduler == sampling_pb2.SCHEDULER_DDIM
    assert decode.sampling.eta == pytest.approx(0.3)


def endpoint(source) -> generation_pb2.Endpoint:
    if isinstance(source, str):
        return generation_pb2.Endpoint(prompt=source)
    return generation_pb2.Endpoint(image=generation_pb2.ImageInput(encoded=png(source)))


@pytest.mark.parametrize(
    "start, end, calls",
    [
        ((10, 20, 30), (250, 240, 230), [TEXT, IMAGE, IMAGE, INVERT, INVERT, DECODE, UPSAMPLE_256]),
        ("a fox", (250, 240, 230), [TEXT, IMAGE, PRIOR, INVERT, DECODE, UPSAMPLE_256]),
        ("a fox", "a hound", [TEXT, PRIOR, PRIOR, DECODE, UPSAMPLE_256]),
    ],
)
def test_interpolation_blends_the_endpoints_embeddings_from_the_stages_they_need(
    servicer, mesh, start, end, calls
):
    request = generation_pb2.InterpolateImagesRequest(
        start=endpoint(start), end=endpoint(end), num_images=4, size=256
    )
    answer = ask(servicer.InterpolateImages, request)
    assert answer.code == grpc.StatusCode.OK and len(answer.result.png_images) == 4
    assert mesh.called() == calls
    from_images = [tensor(c.replies[-1].image_embeddings) for c in mesh.calls_to(*IMAGE)]
    from_prior = [tensor(c.replies[-1].result.image_embeddings) for c in mesh.calls_to(*PRIOR)]
    ends = [(from_prior if isinstance(e, str) else from_images).pop(0) for e in (start, end)]
    strip = tensor(only(mesh, DECODE).request.image_embeddings)
    assert strip.shape[0] == 4
    assert torch.allclose(strip[:1], ends[0], atol=1e-5) and torch.allclose(strip[-1:], ends[1], atol=1e-5)


def edit(instruction: str = "make it winter", caption: str = "a summer field"):
    return generation_pb2.EditImageRequest(
        image=generation_pb2.ImageInput(encoded=png()),
        size=256,
        instruction=instruction,
        original_caption=caption,
    )


def test_edit_decodes_the_inverted_noise_with_the_instructions_text_and_no_prior(servicer, mesh):
    answer = ask(servicer.EditImage, edit())
    assert answer.code == grpc.StatusCode.OK
    assert mesh.called() == [TEXT, IMAGE, INVERT, DECODE, UPSAMPLE_256]
    encoded = only(mesh, TEXT)
    assert encoded.request.prompts == ["a summer field", "make it winter"]
    decode = only(mesh, DECODE).request
    assert torch.equal(
        tensor(decode.text.text_embedding), tensor(encoded.replies[-1].prompts.text_embedding)[1:2]
    )
    assert decode.latents == only(mesh, INVERT).replies[-1].result
    assert decode.sampling.scheduler == sampling_pb2.SCHEDULER_DDIM


def test_an_edit_whose_instruction_is_its_caption_is_refused_before_any_diffusion(servicer, mesh):
    answer = ask(servicer.EditImage, edit("the same", "the same"))
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT and answer.details.startswith("instruction")
    assert mesh.called() == [TEXT, IMAGE]


def inpaint(**fields) -> generation_pb2.InpaintImageRequest:
    mask = Image.new("L", (80, 60), 0)
    mask.paste(255, (0, 0, 40, 60))  # the left half is redrawn
    buffer = io.BytesIO()
    mask.save(buffer, format="PNG")
    return generation_pb2.InpaintImageRequest(
        image=generation_pb2.ImageInput(encoded=png()),
        mask=generation_pb2.ImageInput(encoded=buffer.getvalue()),
        prompt="a window",
        size=256,
        **fields,
    )


def test_inpaint_draws_the_prompt_into_the_mask_and_keeps_the_other_pixels_exactly(servicer, mesh):
    answer = ask(servicer.InpaintImage, inpaint(num_images=2))
    assert answer.code == grpc.StatusCode.OK
    assert mesh.called() == [TEXT, PRIOR, DECODE, UPSAMPLE_256]
    decode = only(mesh, DECODE).request
    assert decode.random.generator_state == only(mesh, PRIOR).replies[-1].result.generator_state
    assert list(decode.inpainting.image.shape) == [2, 3, 64, 64]
    assert list(decode.inpainting.repaint_mask.shape) == [2, 1, 64, 64]
    for encoded in answer.result.png_images:
        image = picture(encoded)
        assert image.getpixel((255, 128)) == COLOUR and image.getpixel((0, 128)) != COLOUR


def test_a_flows_replica_down_is_retried_on_the_next_for_each_of_its_calls(servicer, mesh):
    mesh.faults["decoder-0"] = Fault()
    answer = ask(servicer.CreateVariations, variations(eta=0.5))
    assert answer.code == grpc.StatusCode.OK
    assert [(c.method, c.address, c.outcome) for c in mesh.calls_to("decoder")] == [
        ("InvertImage", "decoder-0", "UNAVAILABLE"),
        ("InvertImage", "decoder-1", "OK"),
        ("DecodeImage", "decoder-0", "UNAVAILABLE"),
        ("DecodeImage", "decoder-1", "OK"),
    ]


def test_a_flows_remaining_deadline_reaches_each_of_its_calls(servicer, mesh):
    ask(servicer.CreateVariations, variations(eta=0.5), time_remaining=50.0)
    assert [c.timeout for c in mesh.calls] == [50.0, 49.0, 48.0, 47.0, 46.0]


@pytest.mark.parametrize(
    "method, bad_request, field",
    [
        (
            "CreateVariations",
            generation_pb2.CreateVariationsRequest(image=generation_pb2.ImageInput(encoded=b"not an image")),
            "image.encoded",
        ),
        (
            "InterpolateImages",
            generation_pb2.InterpolateImagesRequest(start=generation_pb2.Endpoint(prompt="a fox")),
            "end",
        ),
        (
            "EditImage",
            generation_pb2.EditImageRequest(
                image=generation_pb2.ImageInput(encoded=png()), instruction="x", strength=2
            ),
            "strength",
        ),
        (
            "InpaintImage",
            generation_pb2.InpaintImageRequest(
                image=generation_pb2.ImageInput(encoded=png()), prompt="a window"
            ),
            "mask",
        ),
    ],
)
def test_bad_input_is_invalid_argument_naming_the_field_before_any_stage_is_called(
    servicer, mesh, method, bad_request, field
):
    answer = ask(getattr(servicer, method), bad_request)
    assert answer.code == grpc.StatusCode.INVALID_ARGUMENT and answer.details.startswith(f"{field}:")
    assert answer.events == [] and mesh.calls == []
