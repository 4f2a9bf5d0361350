import pytest

from tests.stage_fixtures import stage_models, tiny_bundle  # noqa: F401
from tests.triton_backend.triton_process import TritonProcess


@pytest.fixture(scope="session")
def triton_decoder(tiny_bundle):  # noqa: F811
    """One Triton hosting the tiny bundle's decoder UNet, shared memory allowed."""
    triton = TritonProcess("decoder", tiny_bundle.root, "--allow-shared-memory").wait_listening()
    yield triton
    triton.stop()
