"""The main() every stage server shares: settings once, telemetry, torch threads, serve until a signal."""

import argparse
import asyncio
import os
from collections.abc import Callable

import grpc

from services.runtime import torch_threads
from services.runtime.server import StageServer, run_until_signal
from services.runtime.settings import ServerSettings, add_server_arguments, settings_from_args
from services.telemetry.process import start_telemetry

Register = Callable[[grpc.aio.Server], list[str]]


def serve_stage(stage: str, argv: list[str] | None,
                build: Callable[[ServerSettings], tuple[Callable[[], None] | None, Register]],
                interceptors: Callable[[ServerSettings], list[grpc.aio.ServerInterceptor]] | None = None,
                ) -> int:
    """Parses flags and UNCLIP_* once, builds the stage (load, register) and serves it.

    argv starts with the stage name, as `unclip-mesh serve STAGE ...` passes it. `interceptors`
    makes the server's extra interceptors from the settings (the orchestrator's authentication).
    """
    parser = argparse.ArgumentParser(prog=f"unclip-mesh serve {stage}")
    parser.add_argument("stage", choices=[stage])
    add_server_arguments(parser, stage)
    args = parser.parse_args(argv)
    settings = settings_from_args(args, os.environ)
    tracer_provider = start_telemetry(stage, settings, os.environ)
    import torch

    torch_threads.configure(settings.torch_threads)  # the event loop's thread keeps one
    # TF32 matmuls/convolutions move results far from float32 (and from the reference pipeline).
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    load, register = build(settings)
    try:
        extra = interceptors(settings) if interceptors is not None else []
        return asyncio.run(_serve(StageServer(stage, settings, register, load, extra)))
    finally:
        tracer_provider.shutdown()  # exports the spans still pending


async def _serve(server: StageServer) -> int:
    await run_until_signal(server)  # installs the signal handlers, then starts the server
    return 0
