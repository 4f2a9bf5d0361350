"""`unclip-mesh up` as a real process: it reports its address, serves, and SIGTERM stops every stage."""

import os
import signal
import subprocess
import sys

import pytest

from services.bundle.tiny import write_tiny_bundle
from services.client.sdk import GenerationClient, Sampling

pytestmark = pytest.mark.e2e


def test_up_serves_then_stops_every_process_on_sigterm(tmp_path):
    bundle = write_tiny_bundle(tmp_path / "bundle")
    up = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up", "--bundle", str(bundle.root),
                           "--stages", "text_encoder,prior,decoder", "--orchestrator-port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          start_new_session=True)
    try:
        line = up.stdout.readline()
        assert "GenerationService on" in line, line
        target = line.split(" on ")[1].split()[0]
        with GenerationClient(target) as client:
            result = client.generate("a red circle", size=64, seed=1, timeout=120,
                                     stages={"prior": Sampling(steps=2), "decoder": Sampling(steps=2)})
        assert len(result.png_images) == 1
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(up.pid)], capture_output=True,
                                                        text=True).stdout.split()]
        assert len(children) == 4  # three stages and the orchestrator
        up.send_signal(signal.SIGTERM)
        assert up.wait(timeout=60) == 0
        assert [pid for pid in children if os.path.exists(f"/proc/{pid}")] == []
    finally:
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGKILL)
