import argparse

import pytest

from services.runtime.settings import (
    DEFAULT_BUNDLE,
    ServerSettings,
    add_server_arguments,
    parse_peers,
    parse_stage_compute_dtypes,
    settings_from_args,
)
from services.stage_registry import model_stages


def settings(stage: str, argv: list[str], environ: dict[str, str] | None = None) -> ServerSettings:
    parser = argparse.ArgumentParser()
    add_server_arguments(parser, stage)
    return settings_from_args(parser.parse_args(argv), environ or {})


FLAGS = [
    # flag, env, value given, parsed, default
    ("--host", "UNCLIP_HOST", "0.0.0.0", "0.0.0.0", "127.0.0.1"),
    ("--bundle", "UNCLIP_BUNDLE", "/models/karlo", "/models/karlo", DEFAULT_BUNDLE),
    ("--device", "UNCLIP_DEVICE", "cuda", "cuda", "cpu"),
    ("--compute-dtype", "UNCLIP_COMPUTE_DTYPE", "BFloat16", "bfloat16", "float32"),
    ("--torch-threads", "UNCLIP_TORCH_THREADS", "4", 4, 0),
    ("--max-message-mb", "UNCLIP_MAX_MESSAGE_MB", "128", 128, 64),
    ("--grace-seconds", "UNCLIP_GRACE_SECONDS", "2.5", 2.5, 30.0),
    ("--max-connection-age-seconds", "UNCLIP_MAX_CONNECTION_AGE_SECONDS", "60", 60.0, 300.0),
    ("--max-batch-size", "UNCLIP_MAX_BATCH_SIZE", "16", 16, 8),
    ("--max-queue", "UNCLIP_MAX_QUEUE", "5", 5, 64),
    ("--metrics-port", "UNCLIP_METRICS_PORT", "9090", 9090, 0),
    ("--log-level", "UNCLIP_LOG_LEVEL", "DEBUG", "debug", "info"),
]


def attribute(flag: str) -> str:
    return flag[2:].replace("-", "_")


@pytest.mark.parametrize("flag, env, given, parsed, default", FLAGS, ids=[f[0] for f in FLAGS])
def test_flag_wins_over_env_wins_over_default(flag, env, given, parsed, default):
    name = attribute(flag)
    assert getattr(settings("prior", []), name) == default
    assert getattr(settings("prior", [], {env: given}), name) == parsed
    from_flag = settings("prior", [flag, given], {env: "garbage"})
    assert getattr(from_flag, name) == parsed


@pytest.mark.parametrize(
    "stage, port",
    [
        ("text_encoder", 50051),
        ("prior", 50052),
        ("decoder", 50053),
        ("upsampler_256", 50054),
        ("upsampler_1024", 50055),
        ("orchestrator", 50056),
    ],
)
def test_default_port_per_stage_and_port_zero(stage, port):
    assert settings(stage, []).port == port
    assert settings(stage, [], {"UNCLIP_PORT": "0"}).port == 0
    assert settings(stage, ["--port", "7000"], {"UNCLIP_PORT": "0"}).port == 7000


@pytest.mark.parametrize(
    "argv, environ, message",
    [
        (["--port", "70000"], {}, "--port: must be from 0 to 65535"),
        ([], {"UNCLIP_PORT": "http"}, "UNCLIP_PORT: must be an integer"),
        ([], {"UNCLIP_DEVICE": "tpu"}, "UNCLIP_DEVICE: must be one of cpu, cuda"),
        (["--max-batch-size", "0"], {}, "--max-batch-size: must be >= 1"),
        (["--max-queue", "-1"], {}, "--max-queue: must be >= 1"),
        (["--max-message-mb", "0"], {}, "--max-message-mb: must be >= 1"),
        (["--grace-seconds", "-1"], {}, "--grace-seconds: must be finite and >= 0"),
        ([], {"UNCLIP_GRACE_SECONDS": "nan"}, "UNCLIP_GRACE_SECONDS: must be finite"),
        (["--max-connection-age-seconds", "0"], {}, "must be finite and > 0"),
        (["--host", " "], {}, "--host: must not be empty"),
        ([], {"UNCLIP_LOG_LEVEL": "loud"}, "UNCLIP_LOG_LEVEL: must be one of"),
        (
            ["--compute-dtype", "float8"],
            {},
            "--compute-dtype: must be one of float32, bfloat16, float16 \\(got 'float8'\\)",
        ),
        ([], {"UNCLIP_COMPUTE_DTYPE": "half"}, "UNCLIP_COMPUTE_DTYPE: must be one of"),
    ],
)
def test_bad_values_name_their_source(argv, environ, message):
    with pytest.raises(ValueError, match=message):
        settings("decoder", argv, environ)


def test_max_message_bytes():
    assert ServerSettings(max_message_mb=2).max_message_bytes == 2 * 1024 * 1024


def test_orchestrator_flags_only_on_the_orchestrator():
    with pytest.raises(SystemExit):
        settings("decoder", ["--peer", "prior=h:1"])
    decoder = settings("decoder", [], {"UNCLIP_PEERS": "prior=h:1", "UNCLIP_AUTH_TOKENS_FILE": "t"})
    assert decoder.peers == {} and decoder.auth_tokens_file is None


def test_peers_from_flags_win_over_env():
    orchestrator = settings(
        "orchestrator",
        ["--peer", "prior=a:1,b:2", "--peer", "decoder=c:3", "--auth-tokens-file", "/etc/tokens"],
        {"UNCLIP_PEERS": "text_encoder=x:9"},
    )
    assert orchestrator.peers == {"prior": ["a:1", "b:2"], "decoder": ["c:3"]}
    assert orchestrator.auth_tokens_file == "/etc/tokens"


def test_peers_from_env():
    orchestrator = settings(
        "orchestrator",
        [],
        {"UNCLIP_PEERS": "text_encoder=h:1;prior=h:2,h:3;", "UNCLIP_AUTH_TOKENS_FILE": "/t"},
    )
    assert orchestrator.peers == {"text_encoder": ["h:1"], "prior": ["h:2", "h:3"]}
    assert orchestrator.auth_tokens_file == "/t"


def test_parse_peers():
    assert parse_peers(["prior=a:1", "prior=b:2"]) == {"prior": ["a:1", "b:2"]}
    assert parse_peers(" decoder = dns:///decoder.ns:50053 ") == {"decoder": ["dns:///decoder.ns:50053"]}
    assert parse_peers("") == {}
    for bad in ("prior", "=a:1", "prior=", "prior=a:1,,b:2"):
        with pytest.raises(ValueError, match="expected STAGE=host:port"):
            parse_peers(bad)


def test_bad_peer_names_its_source():
    with pytest.raises(ValueError, match="UNCLIP_PEERS: peer 'prior'"):
        settings("orchestrator", [], {"UNCLIP_PEERS": "prior"})


def test_unknown_stage():
    with pytest.raises(ValueError, match="unknown stage"):
        add_server_arguments(argparse.ArgumentParser(), "vae")


def test_settings_are_frozen():
    with pytest.raises(AttributeError):
        ServerSettings().port = 1


@pytest.mark.parametrize(
    "argv, environ",
    [
        (["--compute-dtype", "float16"], {}),
        ([], {"UNCLIP_COMPUTE_DTYPE": "float16"}),
        (["--compute-dtype", "float16", "--device", "cpu"], {"UNCLIP_DEVICE": "cuda"}),
    ],
)
def test_float16_on_cpu_is_refused_naming_the_setting(argv, environ):
    with pytest.raises(
        ValueError,
        match="--compute-dtype / UNCLIP_COMPUTE_DTYPE: float16 needs "
        "--device cuda; on a CPU use bfloat16 or float32",
    ):
        settings("decoder", argv, environ)


@pytest.mark.parametrize("dtype", ["float32", "bfloat16", "float16"])
def test_every_compute_dtype_on_cuda(dtype):
    assert settings("upsampler_1024", ["--device", "cuda", "--compute-dtype", dtype]).compute_dtype == dtype


def test_bfloat16_on_cpu():
    assert settings("text_encoder", [], {"UNCLIP_COMPUTE_DTYPE": "bfloat16"}).compute_dtype == "bfloat16"


def test_the_orchestrator_takes_no_compute_dtype():
    with pytest.raises(SystemExit):
        settings("orchestrator", ["--compute-dtype", "bfloat16"])
    assert settings("orchestrator", [], {"UNCLIP_COMPUTE_DTYPE": "float16"}).compute_dtype == "float32"


def test_stage_compute_dtypes_later_items_win():
    assert parse_stage_compute_dtypes([]) == {}
    assert parse_stage_compute_dtypes(["bfloat16"]) == dict.fromkeys(model_stages(), "bfloat16")
    assert parse_stage_compute_dtypes(["BFLOAT16", "decoder=float32"]) == {
        **dict.fromkeys(model_stages(), "bfloat16"),
        "decoder": "float32",
    }
    assert parse_stage_compute_dtypes(["upsampler_1024=float16"]) == {"upsampler_1024": "float16"}
    assert parse_stage_compute_dtypes(["decoder=float32", "bfloat16"])["decoder"] == "bfloat16"


@pytest.mark.parametrize(
    "items, message",
    [
        (["float64"], "--compute-dtype 'float64': must be one of float32, bfloat16, float16"),
        (["decoder=int8"], "--compute-dtype 'decoder=int8': must be one of"),
        (["orchestrator=bfloat16"], "unknown stage 'orchestrator' \\(one of text_encoder, prior, decoder"),
        (["vae=bfloat16"], "unknown stage 'vae'"),
    ],
)
def test_stage_compute_dtypes_refuse_unknown_names(items, message):
    with pytest.raises(ValueError, match=message):
        parse_stage_compute_dtypes(items)
