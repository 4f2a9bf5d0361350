"""Which threads of a stage process compute with torch's intra-op threads.

libgomp gives every thread that opens a parallel region a pool of its own, and once a process holds more
pool threads than it has CPUs, every pool stops spinning between parallel regions and sleeps on a futex
instead: a decoder step opens hundreds of regions, and each one then pays a wake-up. A stage process
whose event loop thread, model loader and step batcher each had a pool of two slept about 13,000 times
per 64 px decoder request, where the same decoder in one thread of one process slept about 30 times. So the
event loop thread computes single-threaded and keeps no pool, the model loads in a thread that ends
with it (its pool goes too), and the thread that runs the model (the step batcher's worker) holds the
process's only pool.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable


def configure(threads: int) -> None:
    """`threads` intra-op threads (0: torch's default) for every thread that starts computing from now
    on; the calling thread (the event loop's) computes with one."""
    import torch  # not at import: the servers that never compute (orchestrator, gateway) go without

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(1)
    torch.get_num_threads()  # torch fixes a thread's count at its first use: this one stays at 1
    # set from a thread of its own, so that the calling thread keeps its one thread
    setter = threading.Thread(target=torch.set_num_threads, args=(threads,), name="torch-threads")
    setter.start()
    setter.join()


async def in_passing_thread(function: Callable[[], None]) -> None:
    """Runs `function` in a new thread that ends when it returns (with the OpenMP pool torch gave it)."""
    loop = asyncio.get_running_loop()
    done = loop.create_future()

    def run() -> None:
        try:
            function()
        except BaseException as error:  # handed to the awaiting caller
            loop.call_soon_threadsafe(done.set_exception, error)
        else:
            loop.call_soon_threadsafe(done.set_result, None)

    threading.Thread(target=run, name="model-load", daemon=True).start()
    await done
