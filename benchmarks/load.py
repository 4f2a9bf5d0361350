"""Shared by the benchmarks: concurrent clients against a GenerationService, timed."""

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from unclip_mesh.client.sdk import GenerationClient


@dataclass(frozen=True)
class LoadResult:
    clients: int
    images: int
    seconds: float
    latencies: list[float]

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds

    @property
    def median_latency(self) -> float:
        return statistics.median(self.latencies)


def run_clients(clients: int, requests_per_client: int, request: Callable[[int], int]) -> LoadResult:
    """`clients` threads each make `requests_per_client` calls of request(seed) -> images made."""
    latencies: list[float] = []
    images = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def worker(index: int) -> None:
        try:
            for n in range(requests_per_client):
                started = time.perf_counter()
                made = request(index * 1000 + n)
                with lock:
                    latencies.append(time.perf_counter() - started)
                    images[0] += made
        except BaseException as error:  # reported after the run
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return LoadResult(clients, images[0], time.perf_counter() - started, latencies)


def mesh_request(target: str, prompt: str, options: dict) -> Callable[[int], int]:
    """A request function for run_clients that calls the mesh (one channel per client thread)."""
    local = threading.local()

    def request(seed: int) -> int:
        if not hasattr(local, "client"):
            local.client = GenerationClient(target)
        return len(local.client.generate(prompt, seed=seed, **options).png_images)

    return request
