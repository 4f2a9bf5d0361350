"""System shared memory between a stage service and a Triton server on the same node.

Tensors are written into a region that Triton maps, instead of travelling in the gRPC message. One
region for a call's inputs, one for its outputs; each grows (re-created and re-registered) when a
call needs more than it has. Not thread-safe: callers hold `lock` around a whole call.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence

import numpy as np
import tritonclient.utils.shared_memory as shm
from tritonclient.utils import InferenceServerException

_ROLES = ("inputs", "outputs")


class SharedRegions:
    def __init__(self, prefix: str) -> None:
        self.lock = threading.Lock()
        self._names = {role: f"{prefix}-{os.getpid()}-{role}" for role in _ROLES}
        self._regions: dict[str, tuple[object, int]] = {}  # role -> (handle, byte size)

    def name(self, role: str) -> str:
        return self._names[role]

    async def ensure(self, client, role: str, byte_size: int) -> None:
        """Region `role` holds at least `byte_size` bytes and Triton has it registered."""
        held = self._regions.get(role)
        if held is not None and held[1] >= byte_size:
            return
        if held is not None:
            await client.unregister_system_shared_memory(self._names[role])
            shm.destroy_shared_memory_region(held[0])
            del self._regions[role]
        name = self._names[role]
        handle = shm.create_shared_memory_region(name, f"/{name}", byte_size)
        self._regions[role] = (handle, byte_size)
        await client.register_system_shared_memory(name, f"/{name}", byte_size)

    def write(self, arrays: Sequence[np.ndarray]) -> None:
        """The arrays back to back from offset 0 of the inputs region."""
        shm.set_shared_memory_region(self._regions["inputs"][0], list(arrays))

    def read(self, datatype: type, shape: tuple[int, ...]) -> np.ndarray:
        """A copy of the outputs region's first bytes as an array."""
        return shm.get_contents_as_numpy(self._regions["outputs"][0], datatype, shape).copy()

    async def release(self, client) -> None:
        """Unregisters the regions from Triton (best effort: it may be gone) and unlinks them."""
        for role, (handle, _) in list(self._regions.items()):
            try:
                await client.unregister_system_shared_memory(self._names[role])
            except InferenceServerException:
                pass  # Triton is down or restarted: nothing is registered any more
            shm.destroy_shared_memory_region(handle)
            del self._regions[role]
