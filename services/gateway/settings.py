"""Settings of the HTTP gateway: flags with UNCLIP_* fallbacks, read once in its main().

The same parsing as the stage servers (services/runtime/settings.py): a flag wins over the
environment, the environment over the default; a bad value names its flag or variable.
"""

import argparse
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from services import stage_registry
from services.runtime.settings import (
    OBSERVABILITY_OPTIONS,
    PORT,
    Option,
    add_flags,
    integer,
    read_options,
    seconds,
    text,
    tls_options,
)

GATEWAY_PORT = stage_registry.get(stage_registry.GATEWAY).port
FORM_OVERHEAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class GatewaySettings:
    host: str = "127.0.0.1"
    port: int = GATEWAY_PORT
    orchestrator: str = "127.0.0.1:50056"
    auth_tokens_file: str | None = None
    steps: Mapping[str, int] = field(default_factory=dict)  # stage -> denoising steps
    max_request_seconds: float = 600.0  # the deadline when the caller sends a longer one or none
    max_in_flight: int = 64
    max_image_mb: int = 4
    url_ttl_seconds: float = 3600.0
    url_store_mb: int = 512
    grace_seconds: float = 30.0
    max_message_mb: int = 64
    metrics_port: int = 0
    log_level: str = "info"
    tls_cert: str | None = None  # mutual TLS towards the orchestrator (services/security/tls.py)
    tls_key: str | None = None
    tls_ca: str | None = None
    tls_dir: str | None = None

    @property
    def max_image_bytes(self) -> int:
        return self.max_image_mb * 1024 * 1024

    @property
    def max_body_bytes(self) -> int:
        """Two images (an edit's image and mask), and the text fields and framing beside them."""
        return 2 * self.max_image_bytes + FORM_OVERHEAD_BYTES


def parse_steps(values: list[str] | str) -> dict[str, int]:
    """`--steps STAGE=N` (repeatable) or UNCLIP_GATEWAY_STEPS="prior=10;decoder=25"."""
    items = values.split(";") if isinstance(values, str) else values
    steps: dict[str, int] = {}
    for item in (i.strip() for i in items if i.strip()):
        stage, _, count = item.partition("=")
        if (
            stage.strip() not in stage_registry.sampled_stages()
            or not count.strip().isdigit()
            or int(count) < 1
        ):
            raise ValueError(
                f"{item!r}: expected STAGE=N, N >= 1, STAGE one of "
                f"{', '.join(stage_registry.sampled_stages())}"
            )
        steps[stage.strip()] = int(count)
    return steps


GATEWAY_OPTIONS = (
    Option("--host", "UNCLIP_HOST", text, "address to bind"),
    Option("--port", "UNCLIP_PORT", PORT, "HTTP port to bind, 0 picks a free one"),
    Option(
        "--orchestrator",
        "UNCLIP_ORCHESTRATOR",
        text,
        "the orchestrator's gRPC target, host:port or dns:///name:port",
    ),
    Option(
        "--auth-tokens-file",
        "UNCLIP_AUTH_TOKENS_FILE",
        text,
        "file of the tokens callers must present (the orchestrator's format)",
    ),
    Option(
        "--steps",
        "UNCLIP_GATEWAY_STEPS",
        parse_steps,
        "repeatable: denoising steps of a stage, STAGE=N (unset: the bundle's default)",
        repeatable=True,
    ),
    Option(
        "--max-request-seconds",
        "UNCLIP_MAX_REQUEST_SECONDS",
        seconds(allow_zero=False),
        "the longest deadline a request gets",
    ),
    Option(
        "--max-in-flight",
        "UNCLIP_MAX_IN_FLIGHT",
        integer(1),
        "most API requests at once; more are refused with 429",
    ),
    Option("--max-image-mb", "UNCLIP_MAX_IMAGE_MB", integer(1, 20), "largest uploaded image, MiB"),
    Option(
        "--url-ttl-seconds",
        "UNCLIP_URL_TTL_SECONDS",
        seconds(allow_zero=False),
        "how long a `url` response's PNG stays served",
    ),
    Option(
        "--url-store-mb",
        "UNCLIP_URL_STORE_MB",
        integer(1),
        "memory for `url` PNGs; the oldest go first past it",
    ),
    Option(
        "--grace-seconds",
        "UNCLIP_GRACE_SECONDS",
        seconds(allow_zero=True),
        "how long a draining gateway lets in-flight requests finish",
    ),
    Option(
        "--max-message-mb",
        "UNCLIP_MAX_MESSAGE_MB",
        integer(1),
        "largest gRPC message to or from the orchestrator, in MiB",
    ),
    *OBSERVABILITY_OPTIONS,
    *tls_options("mutual TLS to the orchestrator"),
)


def gateway_settings(argv: list[str] | None, environ: Mapping[str, str]) -> GatewaySettings:
    """Parses `unclip-mesh serve gateway [flags]` (argv starts with `gateway`) and `environ`."""
    parser = argparse.ArgumentParser(prog="unclip-mesh serve gateway")
    parser.add_argument("stage", choices=["gateway"])
    add_flags(
        parser.add_argument_group("gateway"),
        GATEWAY_OPTIONS,
        {f.name: f.default for f in fields(GatewaySettings)},
    )
    return GatewaySettings(**read_options(GATEWAY_OPTIONS, parser.parse_args(argv), environ))
