"""LocalMesh.stop on stand-in processes: the orchestrator is stopped first, and the stages are
signalled only once it has exited; a process still running kill_after seconds after its signal is
killed."""

import signal
import subprocess
import sys
import threading
import time

from unclip_mesh.cli.local_mesh import LocalMesh, StageProcess

# Announces itself as a stage does; on SIGTERM logs it, "drains" for argv[2] seconds, logs its exit.
STAND_IN = """
import signal, sys, time
name, drain_seconds, log = sys.argv[1], float(sys.argv[2]), sys.argv[3]
def note(what):
    with open(log, "a") as file:
        file.write(f"{name} {what}\\n")
def drain(*_):
    note("got SIGTERM")
    time.sleep(drain_seconds)
    note("stopped")
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
print(f"unclip-mesh {name} ready", flush=True)
time.sleep(120)
"""


def _stand_in(name: str, drain_seconds: float, log) -> StageProcess:
    popen = subprocess.Popen(
        [sys.executable, "-c", STAND_IN, name, str(drain_seconds), str(log)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    process = StageProcess(name, popen)
    process.watch(echo=False)
    LocalMesh.await_ready(process, time.monotonic() + 60)
    return process


def _mesh(log, orchestrator_drain: float, stage_drain: float = 0.0) -> LocalMesh:
    mesh = LocalMesh("unused", stages=("prior", "decoder"))
    mesh.processes = [_stand_in(stage, stage_drain, log) for stage in mesh.stages]
    mesh.orchestrator = _stand_in("orchestrator", orchestrator_drain, log)
    return mesh


def test_the_stages_are_signalled_once_the_orchestrator_has_drained(tmp_path):
    log = tmp_path / "log"
    mesh = _mesh(log, orchestrator_drain=1.0)
    try:
        mesh.stop(kill_after=60)
    finally:
        mesh.kill()
    lines = log.read_text().splitlines()
    assert lines[:2] == ["orchestrator got SIGTERM", "orchestrator stopped"]
    assert sorted(lines[2:]) == [
        "decoder got SIGTERM",
        "decoder stopped",
        "prior got SIGTERM",
        "prior stopped",
    ]
    assert [p.popen.returncode for p in mesh.everyone()] == [0, 0, 0]


def test_a_process_that_outlives_kill_after_is_killed(tmp_path):
    log = tmp_path / "log"
    mesh = _mesh(log, orchestrator_drain=120, stage_drain=120)
    try:
        mesh.stop(kill_after=1.0)
    finally:
        mesh.kill()
    assert [p.popen.returncode for p in mesh.everyone()] == [-signal.SIGKILL] * 3
    assert "decoder got SIGTERM" in log.read_text()  # killing the orchestrator moved on to the stages


def test_kill_ends_a_stop_that_is_waiting_for_a_drain(tmp_path):
    log = tmp_path / "log"
    mesh = _mesh(log, orchestrator_drain=120)
    stopping = threading.Thread(target=mesh.stop, kwargs={"kill_after": 60})
    try:
        stopping.start()
        end = time.monotonic() + 30
        while not (log.exists() and "orchestrator got SIGTERM" in log.read_text()):
            assert time.monotonic() < end, "the orchestrator was never signalled"
            time.sleep(0.02)
        mesh.kill()  # what `up` does on a second Ctrl-C
        stopping.join(timeout=30)
        assert not stopping.is_alive()
    finally:
        mesh.kill()
    assert [p.popen.returncode for p in mesh.everyone()] == [-signal.SIGKILL] * 3
