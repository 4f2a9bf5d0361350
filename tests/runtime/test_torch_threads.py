"""The stage process's torch thread layout: the event loop's thread at one thread, the others at N."""

import asyncio
import subprocess
import sys
import threading

import pytest

from services.runtime.torch_threads import in_passing_thread

CHECK = """
import threading, torch
from services.runtime.torch_threads import configure
configure(3)
seen = []
worker = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
worker.start(); worker.join()
torch.randn(1_000_000).exp()  # a parallel region in the calling thread
print(torch.get_num_threads(), seen[0])
"""


def test_the_calling_thread_keeps_one_thread_and_later_threads_get_the_stages():
    # a process of its own: torch's thread counts are process-wide state
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "3"]


def test_in_passing_thread_runs_elsewhere_in_a_thread_that_ends():
    ran_in = []

    async def scenario():
        await in_passing_thread(lambda: ran_in.append(threading.current_thread()))

    asyncio.run(scenario())
    (thread,) = ran_in
    assert thread is not threading.main_thread()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_in_passing_thread_hands_back_the_error():
    def fail():
        raise ValueError("no bundle")

    with pytest.raises(ValueError, match="no bundle"):
        asyncio.run(in_passing_thread(fail))
