"""Runtime settings of a stage server: command-line flags with UNCLIP_* environment fallbacks.

Read once in a stage's main(): `add_server_arguments(parser, stage)`, parse, then
`settings_from_args(args, os.environ)`. A flag wins over the environment, the environment over the
default. Invalid values raise ValueError naming the flag or variable they came from. Other
processes (the HTTP gateway) declare their own table of `Option`s and read it with `add_flags` and
`read_options`, so every process parses flags and UNCLIP_* the same way.
"""

import argparse
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from services import stage_registry

DEFAULT_BUNDLE = str(Path(__file__).resolve().parents[2] / "models" / "demo")
COMPUTE_DTYPES = ("float32", "bfloat16", "float16")
_COMPUTE_DTYPE_FLAG, _COMPUTE_DTYPE_ENV = "--compute-dtype", "UNCLIP_COMPUTE_DTYPE"
_STAGE_ATTR = "_unclip_stage"  # set by add_server_arguments, picks the stage's default port


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 0
    bundle: str = DEFAULT_BUNDLE
    device: str = "cpu"
    compute_dtype: str = "float32"  # the networks' dtype (stages only; see check_compute_dtype)
    torch_threads: int = 0
    max_message_mb: int = 64
    grace_seconds: float = 30.0
    max_connection_age_seconds: float = 300.0
    max_batch_size: int = 8
    max_queue: int = 64
    batch_join: str = "step"
    metrics_port: int = 0
    log_level: str = "info"
    peers: Mapping[str, list[str]] = field(default_factory=dict)  # orchestrator only
    auth_tokens_file: str | None = None  # orchestrator only
    model_backend: str = "native"  # diffusion stages: "triton" runs the network forward in Triton
    triton_url: str | None = None
    triton_model: str | None = None  # default: the stage's name
    triton_shared_memory: str = "off"
    tls_cert: str | None = None  # mutual TLS: all three files, or tls_dir (see services/security/tls.py)
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_dir: str | None = None
    shared_memory_dir: str | None = None  # tensors to/from processes on this node (shared_memory.py)

    @property
    def max_message_bytes(self) -> int:
        return self.max_message_mb * 1024 * 1024


def parse_peers(values: list[str] | str) -> dict[str, list[str]]:
    """`--peer STAGE=host:port[,host:port...]` (repeatable) or UNCLIP_PEERS="STAGE=h:p;STAGE=h:p".

    A stage named twice gets the addresses of both.
    """
    items = values.split(";") if isinstance(values, str) else values
    peers: dict[str, list[str]] = {}
    for item in (i.strip() for i in items):
        if not item:
            continue
        stage, _, joined = item.partition("=")
        addresses = [a.strip() for a in joined.split(",")]
        if not stage.strip() or not all(addresses):
            raise ValueError(f"peer {item!r}: expected STAGE=host:port[,host:port...]")
        peers.setdefault(stage.strip(), []).extend(addresses)
    return peers


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise ValueError("must be an integer") from None
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be from {low} to {high}" if high is not None else f"must be >= {low}")
        return value

    return parse


def seconds(*, allow_zero: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise ValueError("must be a number of seconds") from None
        above_zero = value >= 0 if allow_zero else value > 0
        if not (above_zero and math.isfinite(value)):
            raise ValueError(f"must be finite and {'>=' if allow_zero else '>'} 0")
        return value

    return parse


def choice(*names: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text.lower() not in names:
            raise ValueError(f"must be one of {', '.join(names)}")
        return text.lower()

    return parse


def text(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    return text


@dataclass(frozen=True)
class Option:
    flag: str
    env: str
    parse: Callable[[str], object]
    help: str
    orchestrator_only: bool = False
    repeatable: bool = False  # given several times, the parser gets the list of values
    model_stages_only: bool = False  # only the model stages take it (they run a network)

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")


PORT = integer(0, 65535)
# Options every process takes (the stages, the orchestrator, the gateway).
OBSERVABILITY_OPTIONS = (
    Option("--metrics-port", "UNCLIP_METRICS_PORT", PORT, "Prometheus metrics port, 0 = off"),
    Option(
        "--log-level",
        "UNCLIP_LOG_LEVEL",
        choice("debug", "info", "warning", "error"),
        "log level: debug, info, warning or error",
    ),
)


def tls_options(what: str) -> tuple[Option, ...]:
    """The four mutual-TLS options (services/security/tls.py), their help starting with `what`."""
    return (
        Option("--tls-cert", "UNCLIP_TLS_CERT", text, f"{what}: this process's certificate (PEM)"),
        Option("--tls-key", "UNCLIP_TLS_KEY", text, f"{what}: its private key (PEM)"),
        Option("--tls-ca", "UNCLIP_TLS_CA", text, f"{what}: the CA that signs every peer (PEM)"),
        Option(
            "--tls-dir",
            "UNCLIP_TLS_DIR",
            text,
            f"{what}: a mounted secret folder with tls.crt, tls.key and ca.crt",
        ),
    )


SERVER_OPTIONS = (
    Option("--host", "UNCLIP_HOST", text, "address to bind"),
    Option("--port", "UNCLIP_PORT", PORT, "port to bind, 0 picks a free one"),
    Option("--bundle", "UNCLIP_BUNDLE", text, "model bundle folder"),
    Option("--device", "UNCLIP_DEVICE", choice("cpu", "cuda"), "torch device: cpu or cuda"),
    Option(
        _COMPUTE_DTYPE_FLAG,
        _COMPUTE_DTYPE_ENV,
        choice(*COMPUTE_DTYPES),
        "the networks' dtype: float32, bfloat16 (CPU or GPU) or float16 (cuda only); latents, "
        "scheduler and noise stay float32 (model stages only)",
        model_stages_only=True,
    ),
    Option(
        "--torch-threads",
        "UNCLIP_TORCH_THREADS",
        integer(0),
        "torch intra-op threads, 0 keeps torch's default",
    ),
    Option(
        "--max-message-mb",
        "UNCLIP_MAX_MESSAGE_MB",
        integer(1),
        "largest gRPC message sent or received, in MiB",
    ),
    Option(
        "--grace-seconds",
        "UNCLIP_GRACE_SECONDS",
        seconds(allow_zero=True),
        "how long a draining server lets in-flight calls finish",
    ),
    Option(
        "--max-connection-age-seconds",
        "UNCLIP_MAX_CONNECTION_AGE_SECONDS",
        seconds(allow_zero=False),
        "connections are closed (gracefully) after this age, so clients rebalance",
    ),
    Option(
        "--max-batch-size", "UNCLIP_MAX_BATCH_SIZE", integer(1), "most requests denoised together in one step"
    ),
    Option(
        "--max-queue",
        "UNCLIP_MAX_QUEUE",
        integer(1),
        "most requests waiting or running; more are refused with RESOURCE_EXHAUSTED",
    ),
    Option(
        "--batch-join",
        "UNCLIP_BATCH_JOIN",
        choice("step", "request"),
        "when waiting requests join the batch: at every denoising step, or once it is empty",
    ),
    *OBSERVABILITY_OPTIONS,
    Option(
        "--peer",
        "UNCLIP_PEERS",
        parse_peers,
        "repeatable: the address(es) of a stage, STAGE=host:port[,host:port...]",
        True,
        True,
    ),
    Option(
        "--auth-tokens-file", "UNCLIP_AUTH_TOKENS_FILE", text, "file of the tokens callers must present", True
    ),
    Option(
        "--model-backend",
        "UNCLIP_MODEL_BACKEND",
        choice("native", "triton"),
        "where a diffusion stage runs its network: native (in process) or triton",
    ),
    Option("--triton-url", "UNCLIP_TRITON_URL", text, "Triton's KServe v2 gRPC address, host:port"),
    Option("--triton-model", "UNCLIP_TRITON_MODEL", text, "the network's Triton model name"),
    Option(
        "--triton-shared-memory",
        "UNCLIP_TRITON_SHARED_MEMORY",
        choice("off", "system"),
        "pass tensors to Triton through system shared memory (same node only): off or system",
    ),
    *tls_options("mutual TLS"),
    Option(
        "--shared-memory-dir",
        "UNCLIP_SHARED_MEMORY_DIR",
        text,
        "a tmpfs shared with the processes on this node: large tensors travel through it",
    ),
)
SERVER_FIELDS = {"peer": "peers"}  # option dest -> ServerSettings field where they differ


def add_flags(
    group,
    options: tuple[Option, ...],
    defaults: Mapping[str, object],
    field_names: Mapping[str, str] | None = None,
) -> None:
    """Adds `options` to an argparse group; the help shows each one's variable and default."""
    for option in options:
        default = defaults.get((field_names or {}).get(option.dest, option.dest))
        shown = "" if default is None or option.orchestrator_only else f", default {default}"
        group.add_argument(
            option.flag,
            default=None,
            metavar=option.dest.upper(),
            action="append" if option.repeatable else "store",
            help=f"{option.help} (env {option.env}{shown})",
        )


def read_options(
    options: tuple[Option, ...],
    args: argparse.Namespace,
    environ: Mapping[str, str],
    field_names: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The parsed value of each option given as a flag (first) or in `environ`, by field name."""
    values: dict[str, Any] = {}
    for option in options:
        if not hasattr(args, option.dest):
            continue
        flag_value = getattr(args, option.dest)
        source, raw = (
            (option.flag, flag_value) if flag_value is not None else (option.env, environ.get(option.env))
        )
        if raw is None:
            continue
        try:
            values[(field_names or {}).get(option.dest, option.dest)] = option.parse(raw)
        except ValueError as error:
            raise ValueError(f"{source}: {error} (got {raw!r})") from None
    return values


def add_server_arguments(parser: argparse.ArgumentParser, stage: str) -> None:
    """Adds the runtime flags of `stage` (the orchestrator gets --peer and --auth-tokens-file)."""
    role = stage_registry.get(stage).role
    defaults = {**{f.name: f.default for f in fields(ServerSettings)}, "port": stage_registry.get(stage).port}
    options = tuple(
        o
        for o in SERVER_OPTIONS
        if (not o.orchestrator_only or role == stage_registry.ORCHESTRATOR)
        and (not o.model_stages_only or role == stage_registry.MODEL)
    )
    add_flags(parser.add_argument_group("server"), options, defaults, SERVER_FIELDS)
    parser.set_defaults(**{_STAGE_ATTR: stage})


def settings_from_args(args: argparse.Namespace, environ: Mapping[str, str]) -> ServerSettings:
    """The settings for parsed `args` (from a parser given add_server_arguments) and `environ`."""
    stage = getattr(args, _STAGE_ATTR)
    settings = ServerSettings(
        **{
            "port": stage_registry.get(stage).port,
            **read_options(SERVER_OPTIONS, args, environ, SERVER_FIELDS),
        }
    )
    check_compute_dtype(settings.compute_dtype, settings.device)
    return settings


def check_compute_dtype(compute_dtype: str, device: str) -> None:
    """ValueError naming the setting for a dtype the device cannot run: float16 on a CPU (its
    float16 kernels are slow or missing; bfloat16 is the CPU's reduced precision)."""
    if compute_dtype == "float16" and device == "cpu":
        raise ValueError(
            f"{_COMPUTE_DTYPE_FLAG} / {_COMPUTE_DTYPE_ENV}: float16 needs --device cuda; "
            f"on a CPU use bfloat16 or float32"
        )


def parse_stage_compute_dtypes(items: list[str]) -> dict[str, str]:
    """Each model stage's compute dtype from `DTYPE` (every stage) and `STAGE=DTYPE` (one stage)
    items, later items winning, as `unclip-mesh up --compute-dtype` and the in-process cascade take
    them: ["bfloat16", "decoder=float32"] runs every stage but the decoder in bfloat16."""
    parse = choice(*COMPUTE_DTYPES)
    dtypes: dict[str, str] = {}
    for item in items:
        stage, _, name = item.rpartition("=")
        if stage and stage not in stage_registry.model_stages():
            raise ValueError(
                f"{_COMPUTE_DTYPE_FLAG} {item!r}: unknown stage {stage!r} "
                f"(one of {', '.join(stage_registry.model_stages())})"
            )
        try:
            dtype = parse(name)
        except ValueError as error:
            raise ValueError(f"{_COMPUTE_DTYPE_FLAG} {item!r}: {error}") from None
        dtypes.update(dict.fromkeys([stage] if stage else stage_registry.model_stages(), dtype))
    return dtypes
