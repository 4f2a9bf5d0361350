"""LocalMesh on stand-in processes: the orchestrator is stopped first, and the stages are signalled
only once it has exited; a process still running kill_after seconds after its signal is killed; each
process runs at its stage's CPU priority."""

import os
import signal
import subprocess
import sys
import threading
import time

from services.stage_registry import model_stages
from unclip_mesh.cli.local_mesh import LocalMesh, StageProcess, downstream_nice

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


def test_the_stage_nearest_the_end_of_the_cascade_runs_at_the_highest_priority():
    niceness = [downstream_nice(stage) for stage in model_stages()]
    assert niceness == sorted(niceness, reverse=True) and niceness[-1] == 0
    assert len(set(niceness)) == len(niceness) and max(niceness) <= 19
    assert downstream_nice("orchestrator") == 0


def test_downstream_first_launches_each_process_at_its_stages_priority(tmp_path):
    own = os.getpriority(os.PRIO_PROCESS, 0)
    for downstream_first, expected in ((True, min(19, own + downstream_nice("decoder"))), (False, own)):
        mesh = LocalMesh("unused", stages=("decoder",), downstream_first=downstream_first)
        process = mesh.launch(
            "decoder", [sys.executable, "-c", STAND_IN, "decoder", "0", str(tmp_path / "log")]
        )
        try:
            assert os.getpriority(os.PRIO_PROCESS, process.popen.pid) == expected
        finally:
            process.popen.kill()
            process.popen.wait()
