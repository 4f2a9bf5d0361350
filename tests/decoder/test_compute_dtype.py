"""The decoder with --compute-dtype bfloat16: the network runs in bfloat16, the sampling in float32."""

from __future__ import annotations

import os
import subprocess
import sys

import torch

from tests.decoder.test_model import _job


def test_bfloat16_network_float32_sampling(stage_models, bfloat16_stage_models):
    model = bfloat16_stage_models.decoder
    network = getattr(model.decoder, "network", model.decoder)  # the folded network's own UNet
    assert model.dtype == torch.bfloat16 and network.conv_in.weight.dtype == torch.bfloat16
    assert network.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    reference = stage_models.decoder.start(_job(stage_models, seed=3))
    trajectory = model.start(_job(stage_models, seed=3))
    assert torch.equal(trajectory.latents, reference.latents)  # noise drawn in float32 whatever the dtype
    [expected], [output] = stage_models.decoder.predict([reference]), model.predict([trajectory])
    assert output.dtype == torch.float32 and output.is_contiguous()
    relative = (output - expected).norm() / expected.norm()
    assert 0 < relative < 0.05  # bfloat16 keeps 8 bits of mantissa: ~0.4% per rounding
    while not trajectory.done:
        model.denoise([trajectory])
        assert trajectory.latents.dtype == torch.float32
    images = model.finish(trajectory)
    assert images.dtype == torch.float32 and images.abs().max() <= 1


def test_float32_keeps_the_default_layout(stage_models):
    network = getattr(stage_models.decoder.decoder, "network", stage_models.decoder.decoder)
    assert network.conv_in.weight.is_contiguous()


def test_the_server_refuses_float16_on_cpu_at_start():
    started = subprocess.run(
        [sys.executable, "-m", "services.decoder", "decoder", "--port", "0"],
        env={**os.environ, "UNCLIP_COMPUTE_DTYPE": "float16"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert started.returncode == 2 and "Traceback" not in started.stderr
    assert "--compute-dtype / UNCLIP_COMPUTE_DTYPE: float16 needs --device cuda" in started.stderr
