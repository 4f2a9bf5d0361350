"""The whole mesh as processes on loopback: each stage its own process, the orchestrator started
last and stopped first.

Used by `unclip-mesh up`, by `unclip-mesh generate` without --target, by the end-to-end tests and
by the benchmarks. Each process binds port 0 and announces its address on stdout
(`unclip-mesh STAGE listening on HOST:PORT`, then `unclip-mesh STAGE ready`).
"""

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from services.stage_registry import model_stages

_LISTENING = re.compile(r"^unclip-mesh (\S+) listening on (\S+)$")
_READY = re.compile(r"^unclip-mesh (\S+) ready$")


class MeshStartError(RuntimeError):
    pass


def bundle_stages(bundle: str | Path) -> tuple[str, ...]:
    """The stages a bundle has models for (a diffusers unCLIP folder has no 1024 stage)."""
    from services.bundle.loader import open_bundle

    opened = open_bundle(bundle)
    return tuple(stage for stage in model_stages() if opened.has_stage(stage))


@dataclass
class StageProcess:
    """One server process and what it has announced."""

    name: str
    popen: subprocess.Popen
    address: str = ""  # host:port, once announced
    ready: threading.Event = field(default_factory=threading.Event)
    stderr_tail: deque = field(default_factory=lambda: deque(maxlen=40))

    def watch(self, echo: bool) -> None:
        threading.Thread(target=self._read_stdout, daemon=True).start()
        threading.Thread(target=self._read_stderr, args=(echo,), daemon=True).start()

    def _read_stdout(self) -> None:
        for line in self.popen.stdout or ():
            line = line.strip()
            if match := _LISTENING.match(line):
                self.address = match.group(2)
            elif _READY.match(line):
                self.ready.set()

    def _read_stderr(self, echo: bool) -> None:
        for line in self.popen.stderr or ():
            self.stderr_tail.append(line.rstrip())
            if echo:
                sys.stderr.write(f"[{self.name}] {line}")


class LocalMesh:
    """Starts, awaits and stops the mesh's processes. Use as a context manager."""

    def __init__(
        self,
        bundle: str | Path,
        *,
        stages: tuple[str, ...] | None = None,
        replicas: dict[str, int] | None = None,
        stage_args: tuple[str, ...] = (),
        args_by_stage: dict[str, tuple[str, ...]] | None = None,
        orchestrator_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
        echo_logs: bool = False,
        host: str = "127.0.0.1",
    ):
        self.bundle = str(bundle)
        self.stages = stages or bundle_stages(bundle)
        self.replicas = replicas or {}
        self.stage_args = stage_args
        self.args_by_stage = args_by_stage or {}  # a stage's own flags, after stage_args
        self.orchestrator_args = orchestrator_args
        self.env = {**os.environ, **(env or {})}
        self.echo_logs = echo_logs
        self.host = host
        self.processes: list[StageProcess] = []
        self.orchestrator: StageProcess | None = None

    @property
    def target(self) -> str:
        if self.orchestrator is None:
            raise RuntimeError("the mesh is not started")
        return self.orchestrator.address

    def stage_processes(self, stage: str) -> list[StageProcess]:
        return [p for p in self.processes if p.name == stage]

    def everyone(self) -> list[StageProcess]:
        """Every process started, the orchestrator first."""
        return ([self.orchestrator] if self.orchestrator else []) + self.processes

    def __enter__(self) -> "LocalMesh":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def spawn(self, stage: str, *args: str) -> StageProcess:
        command = [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "serve",
            stage,
            "--host",
            self.host,
            "--port",
            "0",
            *args,
        ]
        return self.launch(stage, command)

    def launch(self, name: str, command: list[str]) -> StageProcess:
        """Starts one process of the mesh and watches its output."""
        popen = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
            start_new_session=True,
        )
        process = StageProcess(name, popen)
        process.watch(self.echo_logs)
        return process

    def start(self, timeout: float = 300.0) -> None:
        for stage in self.stages:
            for _ in range(self.replicas.get(stage, 1)):
                self.processes.append(
                    self.spawn(
                        stage, "--bundle", self.bundle, *self.stage_args, *self.args_by_stage.get(stage, ())
                    )
                )
        deadline = time.monotonic() + timeout
        for process in self.processes:
            self.await_ready(process, deadline)
        peers = []
        for stage in self.stages:
            addresses = ",".join(p.address for p in self.stage_processes(stage))
            peers += ["--peer", f"{stage}={addresses}"]
        self.orchestrator = self.spawn("orchestrator", *peers, *self.orchestrator_args)
        self.await_ready(self.orchestrator, deadline)

    def restart(self, process: StageProcess, timeout: float = 120.0) -> StageProcess:
        """Starts a stopped replica again on its old address (the orchestrator keeps its peers)."""
        port = process.address.rsplit(":", 1)[1]
        command = list(cast(list[str], process.popen.args))  # spawn() starts each from a list of str
        command[command.index("--port") + 1] = port
        fresh = self.launch(process.name, command)
        self.processes[self.processes.index(process)] = fresh
        self.await_ready(fresh, time.monotonic() + timeout)
        return fresh

    @staticmethod
    def await_ready(process: StageProcess, deadline: float) -> None:
        while not process.ready.wait(0.1):
            if process.popen.poll() is not None:
                time.sleep(0.2)  # let the stderr reader catch the last lines
                tail = "\n".join(process.stderr_tail)
                raise MeshStartError(f"{process.name} exited with code {process.popen.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise MeshStartError(f"{process.name} was not ready in time")

    def stop(self, kill_after: float = 120.0) -> None:
        """Stops the mesh from the front, as a whole-mesh rollout does.

        The orchestrator drains first (it refuses new calls and finishes its generations while every
        stage still serves them), then the stages, together, each draining its own calls. A server's
        drain ends within its own grace (UNCLIP_GRACE_SECONDS, 30 s); a process still running
        `kill_after` seconds after its SIGTERM is taken for hung and killed.
        """
        self._stop_together([self.orchestrator] if self.orchestrator else [], kill_after)
        self._stop_together(self.processes, kill_after)

    def kill(self) -> None:
        """SIGKILL to every process still running (a stop that should not wait any longer)."""
        for process in self.everyone():
            if process.popen.poll() is None:
                with contextlib.suppress(ProcessLookupError):  # it ended since
                    os.killpg(process.popen.pid, signal.SIGKILL)

    @staticmethod
    def _stop_together(processes: list[StageProcess], kill_after: float) -> None:
        for process in processes:
            if process.popen.poll() is None:
                process.popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + kill_after
        for process in processes:
            try:
                process.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.popen.pid, signal.SIGKILL)
                process.popen.wait()
