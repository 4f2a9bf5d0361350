"""glibc malloc settings for a process that computes with torch on the CPU.

A denoising step allocates and frees tensors from hundreds of kilobytes to tens of megabytes, hundreds
of times. Under glibc's defaults those come from fresh mmap()s, or from heaps trimmed back to the
kernel after each free, so every step writes to pages the kernel has to fault in and zero again: a
256 px request of the demo bundle took about 90,000 minor page faults, and a stage server's model,
which runs in the step batcher's thread (a per-thread arena, trimmed harder than the main one), more.
Keeping what is freed (one arena, no trimming, mmap only past 32 MiB) brings that to a few dozen: the
256 px request 15-20% faster, the 1024 px one about twice as fast at two threads (docs/BENCHMARKS.md).
The cost is that a process keeps its peak heap until it exits, as a GPU caching allocator keeps its
peak.
"""

from __future__ import annotations

import ctypes
from collections.abc import Mapping

# mallopt's parameters (malloc.h)
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8

_SETTINGS = {
    _M_ARENA_MAX: 1,  # every thread allocates from the main arena, which is not trimmed below
    _M_MMAP_THRESHOLD: 32 * 1024 * 1024,  # glibc's largest: blocks up to this come from the heap
    _M_TRIM_THRESHOLD: 2**31 - 1,  # never give freed heap back: the next step reuses it
    _M_TOP_PAD: 64 * 1024 * 1024,  # grow the heap in large steps
}


def keep_freed_memory(environ: Mapping[str, str]) -> bool:
    """Applies the settings above; returns whether they took effect. An operator's own MALLOC_*
    variables win (nothing is changed), and a C library without glibc's mallopt is left alone."""
    if any(name.startswith("MALLOC_") for name in environ):
        return False
    mallopt = getattr(ctypes.CDLL(None), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    return all(mallopt(parameter, value) == 1 for parameter, value in _SETTINGS.items())
