"""The Triton host's ready line survives tritonserver writing to the same stdout."""

import os
import subprocess
import sys

from services.triton.host import announce


def test_announcement_lands_on_a_line_of_its_own_after_a_partial_log_line():
    script = (
        "import os, sys\n"
        "from services.triton.host import announce\n"
        "os.write(1, b'I1202 08:36:49.4')\n"  # a log line tritonserver has half written
        "announce('unclip-mesh triton decoder listening on 127.0.0.1:1')\n"
        "os.write(1, b'02808 model_lifecycle.cc:839] loaded\\n')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=os.getcwd()
    ).stdout
    assert "unclip-mesh triton decoder listening on 127.0.0.1:1" in out.splitlines()


def test_announcement_is_one_write(monkeypatch):
    writes = []
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(data) or len(data))
    announce("unclip-mesh triton prior listening on 127.0.0.1:2")
    assert writes == [b"\nunclip-mesh triton prior listening on 127.0.0.1:2\n"]
