"""The main() every stage server shares: settings once, malloc, telemetry, torch threads, serve until a
signal."""

import argparse
import asyncio
import os
from collections.abc import Callable

from services.runtime import torch_threads
from services.runtime.lifecycle import StageService
from services.runtime.malloc_tuning import keep_freed_memory
from services.runtime.server import StageServer, run_until_signal
from services.runtime.settings import ServerSettings, add_server_arguments, settings_from_args
from services.telemetry.process import start_telemetry


def serve_stage(
    stage: str, argv: list[str] | None, make_service: Callable[[str, ServerSettings], StageService]
) -> int:
    """Parses flags and UNCLIP_* once, makes the stage's StageService and serves it until a signal.

    argv starts with the stage name, as `unclip-mesh serve STAGE ...` passes it.
    """
    parser = argparse.ArgumentParser(prog=f"unclip-mesh serve {stage}")
    parser.add_argument("stage", choices=[stage])
    add_server_arguments(parser, stage)
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args, os.environ)
    except ValueError as error:
        parser.error(str(error))  # the setting at fault and why, exit status 2, no traceback
    keep_freed_memory(os.environ)  # before any thread allocates: every one then shares the main arena
    tracer_provider = start_telemetry(stage, settings, os.environ)
    import torch

    torch_threads.configure(settings.torch_threads)  # the event loop's thread keeps one
    # TF32 matmuls/convolutions move results far from float32 (and from the reference pipeline).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    service = make_service(stage, settings)
    try:
        return asyncio.run(
            _serve(StageServer(stage, settings, service.register, service.load, service.interceptors()))
        )
    finally:
        tracer_provider.shutdown()  # exports the spans still pending


async def _serve(server: StageServer) -> int:
    await run_until_signal(server)  # installs the signal handlers, then starts the server
    return 0
