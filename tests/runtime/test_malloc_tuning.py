"""Freed memory stays in the process: a model running in a thread stops faulting its pages in again."""

import json
import os
import subprocess
import sys

from services.runtime.malloc_tuning import keep_freed_memory

# Ten forwards of a small convolutional network on 2x32x256x256 maps (17 MB each, the sizes of an
# upsampler's feature maps) in a thread, as the step batcher's worker runs the model; counts the minor
# page faults of the ten after five to warm up.
CHECK = """
import json, os, resource, threading
import torch
from services.runtime.malloc_tuning import keep_freed_memory
applied = keep_freed_memory(os.environ)
torch.set_num_threads(1)
conv = torch.nn.Conv2d
net = torch.nn.Sequential(conv(3, 32, 3, padding=1), torch.nn.SiLU(), conv(32, 32, 3, padding=1))
result = {}
@torch.inference_mode()
def work():
    sample = torch.randn(2, 3, 256, 256)
    for _ in range(5):
        net(sample)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(10):
        net(sample)
    result["faults"] = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
worker = threading.Thread(target=work)
worker.start(); worker.join()
print(json.dumps({"applied": applied, **result}))
"""


def _faults(environ: dict[str, str]) -> dict:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, env=environ, check=False
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def _environ(**extra: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}, **extra}


def test_a_thread_reuses_freed_tensors_without_faulting_pages_in():
    tuned = _faults(_environ())
    untouched = _faults(_environ(MALLOC_TOP_PAD_="131072"))  # glibc's default: its defaults stay
    assert tuned["applied"] and not untouched["applied"]
    # glibc's defaults hand the maps back to the kernel and fault them in again at every forward
    assert untouched["faults"] > 10_000
    assert tuned["faults"] < untouched["faults"] / 10


def test_an_operators_malloc_variables_win():
    assert keep_freed_memory({"MALLOC_ARENA_MAX": "4"}) is False
