"""TritonNetwork: a stage network's forward, run by a Triton server (KServe v2 over gRPC).

The stage service keeps sampling; only `forward(sample, timesteps, **conditioning)` (the signature
`batched_forward` calls) goes to Triton. Calls come from the step batcher's worker threads; the
tritonclient aio client lives on an event loop of its own, in a daemon thread.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
import time
from collections.abc import Coroutine

import numpy as np
import torch
from tritonclient.grpc import MAX_GRPC_MESSAGE_SIZE, InferInput, InferRequestedOutput
from tritonclient.grpc.aio import InferenceServerClient
from tritonclient.utils import InferenceServerException

from services.runtime.errors import DeadlineExceeded, ResourceExhausted, Unavailable
from services.triton.networks import NetworkSpec
from services.triton.shared_memory import SharedRegions

logger = logging.getLogger(__name__)

INFER_TIMEOUT_S = 300.0  # one network forward; a hung Triton must not hold the batch forever
READY_POLL_S = 1.0
_NUMPY = {"FP32": np.float32, "INT64": np.int64, "BOOL": np.bool_}
_UNAVAILABLE = ("UNAVAILABLE", "NOT_FOUND")  # Triton down, or the model unloaded
# gRPC's default reconnect backoff grows to 2 minutes: a stage waiting for Triton, or one whose
# Triton restarted, would find it that late.
_CHANNEL_ARGS = [
    ("grpc.max_send_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.max_receive_message_length", MAX_GRPC_MESSAGE_SIZE),
    ("grpc.initial_reconnect_backoff_ms", 200),
    ("grpc.min_reconnect_backoff_ms", 200),
    ("grpc.max_reconnect_backoff_ms", 1_000),
]


def stage_error(stage: str, url: str, error: InferenceServerException) -> Exception:
    """Triton's status as the mesh's: a StageError, or a plain error (INTERNAL to the caller)."""
    status = (error.status() or "").rpartition(".")[2]
    reason = f"triton at {url}: {error.message()}"
    if status in _UNAVAILABLE:
        return Unavailable(stage, reason)
    if status == "RESOURCE_EXHAUSTED":
        return ResourceExhausted(f"{stage} stage is overloaded: {reason}")
    if status == "DEADLINE_EXCEEDED":
        return DeadlineExceeded(f"deadline exceeded in the {stage} stage: {reason}")
    return RuntimeError(reason)


class TritonNetwork:
    """`spec`'s network, served by Triton at `url` as `model_name`.

    Each call splits its rows into chunks of at most the model's max_batch_size and sends them at
    once (Triton's dynamic batcher and instances run them together or side by side). The output has
    the sample's shape with `output_channels` channels. With `shared_memory` the tensors go through
    system shared memory (Triton must run on the same node).
    """

    def __init__(
        self, spec: NetworkSpec, url: str, model_name: str, output_channels: int, shared_memory: bool = False
    ) -> None:
        self.spec = spec
        self.url = url
        self.model_name = model_name
        self.output_channels = output_channels
        self.max_batch_size = 0  # read from Triton by wait_until_ready
        self._regions = SharedRegions(f"unclip-{spec.stage}") if shared_memory else None
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name=f"triton-{spec.stage}", daemon=True).start()
        self._client: InferenceServerClient = self._call(self._connect())
        atexit.register(self.close)

    async def _connect(self) -> InferenceServerClient:
        return InferenceServerClient(self.url, channel_args=_CHANNEL_ARGS)  # a channel of this loop

    def _call(self, coroutine: Coroutine, timeout: float | None = None):
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def ready(self) -> tuple[bool, str]:
        """Whether Triton says the model is ready, and why not."""
        try:
            if self._call(self._client.is_model_ready(self.model_name)):
                return True, "ready"
            return False, f"model {self.model_name} is not ready"
        except InferenceServerException as error:
            return False, error.message()

    def wait_until_ready(self) -> None:
        """Blocks until Triton has the model ready (the stage stays NOT_SERVING meanwhile), then
        checks the model's inputs against the spec and reads its max_batch_size."""
        waited = False
        while not (answer := self.ready())[0]:
            if not waited:
                logger.info("%s stage: waiting for Triton at %s: %s", self.spec.stage, self.url, answer[1])
                waited = True
            time.sleep(READY_POLL_S)
        config = self._call(self._client.get_model_config(self.model_name)).config
        served, needed = sorted(i.name for i in config.input), sorted(t.name for t in self.spec.inputs)
        if served != needed:
            raise ValueError(
                f"Triton model {self.model_name} takes {served}; the {self.spec.stage} network needs {needed}"
            )
        if config.max_batch_size < 1:
            raise ValueError(f"Triton model {self.model_name} must batch (max_batch_size >= 1)")
        self.max_batch_size = config.max_batch_size

    def __call__(
        self, sample: torch.Tensor, timesteps: torch.Tensor, **conditioning: torch.Tensor
    ) -> torch.Tensor:
        tensors = {"sample": sample, "timestep": timesteps.reshape(-1, 1), **conditioning}
        arrays: dict[str, np.ndarray] = {
            t.name: tensors[t.name].detach().cpu().numpy().astype(_NUMPY[t.datatype], copy=False)
            for t in self.spec.inputs
        }
        shape = (sample.shape[0], self.output_channels, *sample.shape[2:])
        try:
            if self._regions is None:
                output = self._call(self._infer(arrays, shape))
            else:
                with self._regions.lock:
                    output = self._call(self._infer_shared(self._regions, arrays, shape))
        except InferenceServerException as error:
            raise stage_error(self.spec.stage, self.url, error) from None
        return torch.from_numpy(output).to(sample.device)

    def _chunks(self, rows: int) -> list[slice]:
        return [
            slice(start, min(rows, start + self.max_batch_size))
            for start in range(0, rows, self.max_batch_size)
        ]

    async def _infer(self, arrays: dict[str, np.ndarray], shape: tuple[int, ...]) -> np.ndarray:
        async def one(rows: slice) -> np.ndarray:
            inputs = []
            for spec in self.spec.inputs:
                tensor = InferInput(spec.name, list(arrays[spec.name][rows].shape), spec.datatype)
                inputs.append(tensor.set_data_from_numpy(arrays[spec.name][rows]))
            result = await self._client.infer(
                self.model_name,
                inputs,
                client_timeout=INFER_TIMEOUT_S,
                outputs=[InferRequestedOutput(self.spec.output.name)],
            )
            return result.as_numpy(self.spec.output.name)

        parts = await asyncio.gather(*(one(rows) for rows in self._chunks(shape[0])))
        return np.concatenate(parts).reshape(shape)

    async def _infer_shared(
        self, regions: SharedRegions, arrays: dict[str, np.ndarray], shape: tuple[int, ...]
    ) -> np.ndarray:
        """As _infer, with every chunk's inputs back to back in one region, outputs in another."""
        chunks = self._chunks(shape[0])
        pieces = [arrays[spec.name][rows] for rows in chunks for spec in self.spec.inputs]
        datatype = _NUMPY[self.spec.output.datatype]
        row_bytes = int(np.prod(shape[1:])) * np.dtype(datatype).itemsize
        await regions.ensure(self._client, "inputs", sum(p.nbytes for p in pieces))
        await regions.ensure(self._client, "outputs", shape[0] * row_bytes)
        regions.write(pieces)
        offset, requests = 0, []
        for rows in chunks:
            inputs = []
            for spec in self.spec.inputs:
                piece = arrays[spec.name][rows]
                tensor = InferInput(spec.name, list(piece.shape), spec.datatype)
                tensor.set_shared_memory(regions.name("inputs"), piece.nbytes, offset)
                inputs.append(tensor)
                offset += piece.nbytes
            output = InferRequestedOutput(self.spec.output.name)
            output.set_shared_memory(
                regions.name("outputs"), (rows.stop - rows.start) * row_bytes, rows.start * row_bytes
            )
            requests.append(
                self._client.infer(self.model_name, inputs, outputs=[output], client_timeout=INFER_TIMEOUT_S)
            )
        await asyncio.gather(*requests)
        return regions.read(datatype, shape)

    def close(self) -> None:
        """Releases the shared-memory regions and the channel; stops the client's loop."""
        atexit.unregister(self.close)
        if not self._loop.is_running():
            return
        try:
            if self._regions is not None:
                self._call(self._regions.release(self._client), timeout=5)
            self._call(self._client.close(), timeout=5)
        except (InferenceServerException, TimeoutError) as error:
            logger.warning("%s stage: closing the Triton client: %s", self.spec.stage, error)
        self._loop.call_soon_threadsafe(self._loop.stop)
