"""Without a Triton server: Triton's statuses as the mesh's, the settings, the stages Triton hosts."""

import argparse

import grpc
import pytest
from tritonclient.utils import InferenceServerException

from services.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from services.runtime.settings import ServerSettings, add_server_arguments, settings_from_args
from services.triton.client import stage_error
from services.triton.stage_models import triton_stage_model


@pytest.mark.parametrize(
    "status, kind, code",
    [
        ("StatusCode.UNAVAILABLE", Unavailable, grpc.StatusCode.UNAVAILABLE),
        ("StatusCode.NOT_FOUND", Unavailable, grpc.StatusCode.UNAVAILABLE),
        ("StatusCode.RESOURCE_EXHAUSTED", ResourceExhausted, grpc.StatusCode.RESOURCE_EXHAUSTED),
        ("StatusCode.DEADLINE_EXCEEDED", DeadlineExceeded, grpc.StatusCode.DEADLINE_EXCEEDED),
    ],
)
def test_triton_statuses_become_the_stage_statuses(status, kind, code):
    error = stage_error("decoder", "h:1", InferenceServerException("boom", status=status))
    assert isinstance(error, kind) and error.code == code
    assert "decoder" in error.message and "triton at h:1: boom" in error.message


def test_other_triton_statuses_are_internal_errors():
    error = stage_error(
        "decoder", "h:1", InferenceServerException("bad shape", status="StatusCode.INVALID_ARGUMENT")
    )
    assert type(error) is RuntimeError  # INTERNAL "internal error" to the caller, logged here


def test_settings_select_the_triton_backend_by_flag_or_environment():
    parser = argparse.ArgumentParser()
    add_server_arguments(parser, "decoder")
    environ = {
        "UNCLIP_MODEL_BACKEND": "triton",
        "UNCLIP_TRITON_URL": "triton:8001",
        "UNCLIP_TRITON_SHARED_MEMORY": "system",
    }
    settings = settings_from_args(parser.parse_args(["--triton-model", "unet"]), environ)
    assert (
        settings.model_backend,
        settings.triton_url,
        settings.triton_model,
        settings.triton_shared_memory,
    ) == ("triton", "triton:8001", "unet", "system")
    with pytest.raises(ValueError, match="--model-backend: must be one of native, triton"):
        settings_from_args(parser.parse_args(["--model-backend", "onnx"]), {})


def test_the_triton_backend_needs_a_url_and_a_stage_it_can_host(tiny_bundle):
    with pytest.raises(ValueError, match="needs --triton-url"):
        triton_stage_model("decoder", tiny_bundle, ServerSettings(model_backend="triton"))
    with pytest.raises(ValueError, match="the prior stage cannot be hosted by Triton yet"):
        triton_stage_model("prior", tiny_bundle, ServerSettings(model_backend="triton", triton_url="h:1"))
