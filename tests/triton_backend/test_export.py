"""`unclip-mesh triton export`: the model repository, and that a stock tritonserver serves it."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from services.triton.client import TritonNetwork
from services.triton.networks import network_spec
from tests.triton_backend.triton_process import free_ports, triton_python


def test_export_writes_config_model_and_network(tiny_bundle, tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "unclip_mesh.cli.main",
            "triton",
            "export",
            "decoder",
            str(tmp_path),
            "--bundle",
            str(tiny_bundle.root),
            "--max-batch-size",
            "16",
            "--instances",
            "2",
            "--kind",
            "gpu",
        ],
        check=True,
        timeout=120,
    )
    model = tmp_path / "decoder"
    config = (model / "config.pbtxt").read_text()
    assert 'backend: "python"' in config and "max_batch_size: 16" in config
    assert '{ name: "timestep" data_type: TYPE_INT64 dims: [ 1 ] }' in config
    assert "instance_group [ { count: 2 kind: KIND_GPU } ]" in config
    assert "dynamic_batching { max_queue_delay_microseconds: 2000 }" in config
    assert (model / "1" / "model.py").read_text().count("class TritonPythonModel") == 1
    assert (model / "1" / "network" / "config.json").is_file()


def test_export_refuses_a_stage_triton_cannot_host(tiny_bundle, tmp_path):
    from services.triton.export import export_repository

    with pytest.raises(ValueError, match="the prior stage cannot be hosted by Triton yet"):
        export_repository("prior", tiny_bundle.root, tmp_path)


def _stock_tritonserver(python: Path, repository: Path, tmp_path: Path, grpc_port: int):
    """The tritonserver binary and Python backend PyTriton ships, serving `repository` as is."""
    dist = (
        Path(
            subprocess.run(
                [str(python), "-c", "import pytriton, sys; print(pytriton.__path__[0])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
        / "tritonserver"
    )
    backend = tmp_path / "backends" / "python"
    backend.mkdir(parents=True)
    for item in (dist / "backends" / "python").iterdir():
        if item.is_file():
            (backend / item.name).symlink_to(item)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    (backend / "triton_python_backend_stub").symlink_to(
        dist / "python_backend_stubs" / version / "triton_python_backend_stub"
    )
    http, metrics = free_ports(2)
    env = {
        **os.environ,
        "PATH": f"{python.parent}:{os.environ['PATH']}",  # the stub's site-packages
        "LD_LIBRARY_PATH": str(dist.parent.parent / "nvidia_pytriton.libs"),
    }
    return subprocess.Popen(
        [
            str(dist / "bin" / "tritonserver"),
            "--model-repository",
            str(repository),
            "--backend-directory",
            str(tmp_path / "backends"),
            "--grpc-port",
            str(grpc_port),
            "--http-port",
            str(http),
            "--metrics-port",
            str(metrics),
            "--allow-gpu-metrics",
            "false",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )


@pytest.mark.slow
def test_stock_tritonserver_serves_the_exported_decoder(tiny_bundle, stage_models, tmp_path):
    from services.triton.export import export_repository

    python = triton_python()
    export_repository("decoder", tiny_bundle.root, tmp_path / "repository", max_batch_size=4)
    port = free_ports(1)[0]
    server = _stock_tritonserver(python, tmp_path / "repository", tmp_path, port)
    unet, text_proj = stage_models.decoder.decoder, stage_models.decoder.text_proj
    network = TritonNetwork(network_spec("decoder"), f"127.0.0.1:{port}", "decoder", unet.config.out_channels)
    try:
        network.wait_until_ready()
        generator = torch.Generator().manual_seed(3)
        rows, width = 5, unet.config.cross_attention_dim
        sample = torch.randn(rows, unet.config.in_channels, 64, 64, generator=generator)
        conditioning = {
            "encoder_hidden_states": torch.randn(rows, 7, width, generator=generator),
            "class_labels": torch.randn(rows, text_proj.embedding_proj.out_features, generator=generator),
            "attention_mask": torch.ones(rows, 7, dtype=torch.bool),
        }
        timesteps = torch.tensor([999, 700, 400, 100, 0])
        with torch.inference_mode():
            expected = unet(sample=sample, timestep=timesteps, **conditioning).sample
        torch.testing.assert_close(network(sample, timesteps, **conditioning), expected, rtol=0, atol=1e-5)
    finally:
        network.close()
        server.terminate()
        server.wait(60)
