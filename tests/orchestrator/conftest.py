"""The orchestrator's servicer over a fake mesh, on simulated time."""

import pytest

from services.orchestrator import chain, deadline, flows
from services.orchestrator.chain import GenerationChain
from services.orchestrator.request_checks import RequestLimits
from services.orchestrator.servicer import GenerationServicer
from services.runtime.shared_memory import SharedMemory
from tests.orchestrator.fake_channel import FakeClock
from tests.orchestrator.fake_stages import FakeMesh


@pytest.fixture
def clock(monkeypatch) -> FakeClock:
    """Stage durations, deadlines and retry backoffs on a FakeClock: exact, and no real waiting."""
    clock = FakeClock()
    for module in (chain, deadline, flows):
        monkeypatch.setattr(module, "time", clock)
    monkeypatch.setattr(chain, "asyncio", clock)  # the chain's only use of asyncio: the backoff sleep
    return clock


@pytest.fixture
def mesh(clock) -> FakeMesh:
    return FakeMesh(clock)


def servicer_over(mesh: FakeMesh, shared: SharedMemory | None = None) -> GenerationServicer:
    return GenerationServicer(GenerationChain(mesh.clients(), RequestLimits(), shared))


@pytest.fixture
def servicer(mesh) -> GenerationServicer:
    return servicer_over(mesh)
