"""Tensor bytes through shared memory between processes on one node, instead of through gRPC.

A directory of shared memory (a tmpfs: /dev/shm, or a `medium: Memory` emptyDir that a pod's
containers mount) holds one file per region; a Tensor message then carries only the region's name
(tensor.proto, SharedMemoryRegion). It pays for large tensors: gRPC's Python transport moves a
12 MB tensor at a few hundred MB/s, a region at memory speed (docs/BENCHMARKS.md, Tensor hops).

Two processes share memory only if they see the same files, which a path alone does not prove (two
nodes both have /dev/shm). So a caller that can read replies from shared memory places a marker file
in its directory and names it in the call's metadata; a server replies through shared memory only
when it finds that marker in its own directory. The caller owns every region of its calls and
removes them (tensor.proto); a sweep removes the regions a crashed or cancelled call left behind.
"""

import atexit
import os
import re
import secrets
import time
from pathlib import Path

import numpy as np

from services.runtime.errors import InvalidArgument
from unclip.v1 import tensor_pb2

METADATA_KEY = "unclip-shared-memory"  # the caller's marker: "you may reply through shared memory"
MIN_BYTES = 1 << 20  # below a MiB a tensor is cheaper inline than a file
_PREFIX = "unclip-"
_REGION_NAME = re.compile(r"unclip-[0-9a-f]{32}")
_MARKER_NAME = re.compile(r"unclip-marker-[0-9a-f]{32}")


class SharedMemory:
    """One process's view of the shared-memory directory."""

    def __init__(self, directory: str | Path, min_bytes: int = MIN_BYTES):
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise ValueError(f"shared-memory directory {self.directory} does not exist")
        self.min_bytes = min_bytes
        self._marker: str | None = None
        self._last_sweep = float("-inf")  # the first reply read sweeps what earlier runs left

    @classmethod
    def configured(cls, directory: str | None) -> "SharedMemory | None":
        """The process's shared memory from its --shared-memory-dir setting; None when unset."""
        return cls(directory) if directory else None

    def worth_it(self, byte_size: int) -> bool:
        return byte_size >= self.min_bytes

    def write(self, data: np.ndarray) -> tensor_pb2.SharedMemoryRegion:
        """A new region holding the bytes of C-contiguous `data`."""
        name = f"{_PREFIX}{secrets.token_hex(16)}"
        descriptor = os.open(self.directory / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = data.data.cast("B")
            while view:
                view = view[os.write(descriptor, view) :]
        finally:
            os.close(descriptor)
        return tensor_pb2.SharedMemoryRegion(name=name, byte_size=data.nbytes)

    def read(self, region: tensor_pb2.SharedMemoryRegion, field: str, dtype: np.dtype) -> np.ndarray:
        """A copy of the region as a writable array of `dtype`; region.byte_size must already be
        checked against the tensor's shape. Checks are made on the copy, so nobody can change the
        values after they were checked."""
        path = self._region_path(region.name, field)
        try:
            with open(path, "rb", buffering=0) as file:
                size = os.fstat(file.fileno()).st_size
                if size == region.byte_size:
                    owned = np.empty(size // dtype.itemsize, dtype=dtype)
                    size = file.readinto(owned.data.cast("B"))
        except FileNotFoundError:
            raise InvalidArgument(field, f"shared memory region {region.name} does not exist") from None
        if size != region.byte_size:
            raise InvalidArgument(
                field, f"shared memory region {region.name} holds {size} bytes, not {region.byte_size}"
            )
        return owned

    def remove(self, region: tensor_pb2.SharedMemoryRegion) -> None:
        if _REGION_NAME.fullmatch(region.name):
            (self.directory / region.name).unlink(missing_ok=True)

    def sweep(self, older_than_seconds: float) -> int:
        """Removes regions (not markers) last written more than `older_than_seconds` ago."""
        cutoff, removed = time.time() - older_than_seconds, 0
        for path in self.directory.glob(f"{_PREFIX}*"):
            try:
                if _REGION_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                    path.unlink()
                    removed += 1
            except FileNotFoundError:
                pass  # another process swept it first
        return removed

    def sweep_if_due(self, every_seconds: float = 60.0, older_than_seconds: float = 600.0) -> None:
        """A sweep of regions older than `older_than_seconds` (past any call's deadline), at most
        once every `every_seconds`."""
        now = time.monotonic()
        if now - self._last_sweep >= every_seconds:
            self._last_sweep = now
            self.sweep(older_than_seconds)

    def marker(self) -> str:
        """This process's marker (created on first use, removed at exit), for its calls' metadata."""
        if self._marker is None:
            name = f"{_PREFIX}marker-{secrets.token_hex(16)}"
            (self.directory / name).touch(mode=0o600, exist_ok=False)
            self._marker = name
            atexit.register(self.close)
        return self._marker

    def close(self) -> None:
        """Removes this process's marker."""
        if self._marker is not None:
            (self.directory / self._marker).unlink(missing_ok=True)
            self._marker = None

    def shared_with(self, marker: str) -> bool:
        """Whether the process that made `marker` sees this directory."""
        return bool(_MARKER_NAME.fullmatch(marker)) and (self.directory / marker).is_file()

    def _region_path(self, name: str, field: str) -> Path:
        if not _REGION_NAME.fullmatch(name):
            raise InvalidArgument(field, 'shared memory region name must be "unclip-" and 32 hex digits')
        return self.directory / name


def inline(message: tensor_pb2.Tensor, shared: SharedMemory | None, field: str) -> None:
    """Moves the bytes of a reply's region (if it has one) into its data and removes the region;
    now and then also sweeps the regions that calls cut short left behind."""
    if shared is None or not message.HasField("shared_memory"):
        return
    region = tensor_pb2.SharedMemoryRegion()
    region.CopyFrom(message.shared_memory)
    try:
        message.data = shared.read(region, field, np.dtype("u1")).tobytes()
        message.ClearField("shared_memory")
    finally:
        shared.remove(region)
    shared.sweep_if_due()


def for_reply(shared: SharedMemory | None, metadata) -> SharedMemory | None:
    """`shared` if the caller whose invocation `metadata` this is sees the same directory, else None."""
    if shared is None:
        return None
    marker = next((value for key, value in metadata or () if key == METADATA_KEY), None)
    return shared if isinstance(marker, str) and shared.shared_with(marker) else None
