"""The calling subcommands: a failed call is one line with its status and details, and a local mesh
started for the call gets --torch-threads."""

from __future__ import annotations

from concurrent import futures

import grpc
import pytest

from unclip.v1 import generation_pb2_grpc
from unclip_mesh.cli import local_mesh
from unclip_mesh.cli.main import build_parser, main

CALLING_COMMANDS = ("generate", "vary", "interpolate", "edit", "inpaint")


class _Refusing(generation_pb2_grpc.GenerationServiceServicer):
    def GenerateImages(self, request, context):
        context.abort(grpc.StatusCode.FAILED_PRECONDITION, "this request needs the prior stage")


@pytest.fixture
def refusing_target():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    generation_pb2_grpc.add_GenerationServiceServicer_to_server(_Refusing(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None).wait(timeout=10)


@pytest.mark.parametrize("command", CALLING_COMMANDS)
def test_help_names_torch_threads(command):
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert "--torch-threads" in subparsers.choices[command].format_help()


def test_a_failed_call_is_one_line_and_exit_status_1(refusing_target, tmp_path, capsys):
    status = main(
        [
            "generate",
            "a red circle",
            "--target",
            refusing_target,
            "-o",
            str(tmp_path / "a.png"),
            "--timeout",
            "30",
        ]
    )
    err = capsys.readouterr().err
    assert status == 1
    assert err.splitlines() == ["error: FAILED_PRECONDITION: this request needs the prior stage"]
    assert not (tmp_path / "a.png").exists()


def test_the_local_mesh_gets_the_torch_threads(refusing_target, tmp_path, monkeypatch, capsys):
    started = {}

    class _FakeMesh:
        def __init__(self, bundle, **options):
            started.update(options)
            self.target = refusing_target

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(local_mesh, "LocalMesh", _FakeMesh)
    main(
        ["generate", "a red circle", "--torch-threads", "1", "-o", str(tmp_path / "a.png"), "--timeout", "30"]
    )
    assert started["stage_args"] == ("--torch-threads", "1")
