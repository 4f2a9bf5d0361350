"""One mesh of six processes on a tiny random bundle, shared by the end-to-end tests."""

import pytest

from unclip_mesh.bundles.tiny import write_tiny_bundle
from unclip_mesh.cli.local_mesh import LocalMesh
from unclip_mesh.client.sdk import GenerationClient, Sampling

FAST = {
    "prior": Sampling(steps=2),
    "decoder": Sampling(steps=2),
    "upsampler_256": Sampling(steps=2),
    "upsampler_1024": Sampling(steps=2),
}


@pytest.fixture(scope="session")
def shared_memory_dir(tmp_path_factory):
    """The directory the mesh's processes share, as the stages of one node do."""
    return tmp_path_factory.mktemp("shared_memory")


@pytest.fixture(scope="session")
def mesh(tmp_path_factory, shared_memory_dir):
    bundle = write_tiny_bundle(tmp_path_factory.mktemp("bundle"), seed=0)
    memory = ("--shared-memory-dir", str(shared_memory_dir))
    with LocalMesh(
        bundle.root, stage_args=("--torch-threads", "1", *memory), orchestrator_args=memory
    ) as mesh:
        yield mesh


@pytest.fixture(scope="session")
def client(mesh):
    with GenerationClient(mesh.target) as client:
        yield client
