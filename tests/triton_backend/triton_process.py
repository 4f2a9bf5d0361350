"""A real Triton server (PyTriton, under the Triton venv) hosting a stage's network, as a process.

Tests that need one skip when the Triton venv is missing (scripts/triton-venv.sh builds it).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from collections import deque
from pathlib import Path

import pytest

from unclip_mesh.cli.triton import DEFAULT_TRITON_PYTHON

START_TIMEOUT_S = 240.0


def triton_python() -> Path:
    """The Triton venv's interpreter; skips the test when there is none."""
    python = Path(os.environ.get("UNCLIP_TRITON_PYTHON") or DEFAULT_TRITON_PYTHON)
    if not python.is_file():
        pytest.skip("no Triton venv (.venv-triton): build it with scripts/triton-venv.sh")
    return python


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


class TritonProcess:
    """`unclip-mesh triton serve STAGE` on free loopback ports; `url` is its gRPC address."""

    def __init__(self, stage: str, bundle: str | Path, *extra: str, grpc_port: int | None = None):
        python = triton_python()
        grpc, http, metrics = free_ports(3)
        self.grpc_port = grpc_port or grpc
        self.url = f"127.0.0.1:{self.grpc_port}"
        command = [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "triton",
            "serve",
            stage,
            "--bundle",
            str(bundle),
            "--grpc-port",
            str(self.grpc_port),
            "--http-port",
            str(http),
            "--metrics-port",
            str(metrics),
            *extra,
        ]
        self.popen = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
            env={**os.environ, "UNCLIP_TRITON_PYTHON": str(python)},
        )
        self.output: deque[str] = deque(maxlen=60)
        self._listening = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.output.append(line.rstrip())
            if line.startswith("unclip-mesh triton ") and " listening on " in line:
                self._listening.set()

    def wait_listening(self) -> TritonProcess:
        if not self._listening.wait(START_TIMEOUT_S) or self.popen.poll() is not None:
            self.stop()
            raise RuntimeError("Triton did not start:\n" + "\n".join(self.output))
        return self

    def stop(self) -> None:
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
