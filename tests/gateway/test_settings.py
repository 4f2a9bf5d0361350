import pytest

from services.gateway.settings import GATEWAY_PORT, gateway_settings


def test_defaults_flags_and_environment():
    assert gateway_settings(["gateway"], {}).port == GATEWAY_PORT
    settings = gateway_settings(
        ["gateway", "--steps", "prior=2", "--steps", "decoder=3", "--max-in-flight", "5"],
        {"UNCLIP_ORCHESTRATOR": "dns:///o:50056", "UNCLIP_MAX_IN_FLIGHT": "9"},
    )
    assert settings.steps == {"prior": 2, "decoder": 3}
    assert settings.orchestrator == "dns:///o:50056" and settings.max_in_flight == 5
    from_env = gateway_settings(["gateway"], {"UNCLIP_GATEWAY_STEPS": "upsampler_1024=4;prior=1"})
    assert from_env.steps == {"upsampler_1024": 4, "prior": 1}
    assert gateway_settings(["gateway", "--max-image-mb", "2"], {}).max_image_bytes == 2 * 1024 * 1024


@pytest.mark.parametrize(
    "argv, environ, named",
    [
        (["--steps", "vae=2"], {}, "--steps"),
        (["--steps", "prior=0"], {}, "--steps"),
        ([], {"UNCLIP_GATEWAY_STEPS": "prior"}, "UNCLIP_GATEWAY_STEPS"),
        (["--max-image-mb", "21"], {}, "--max-image-mb"),
    ],
)
def test_bad_values_name_their_source(argv, environ, named):
    with pytest.raises(ValueError, match=named):
        gateway_settings(["gateway", *argv], environ)
