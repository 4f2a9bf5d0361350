"""UpsamplerModel: first/last networks, noise augmentation, the 1024 pixel-shuffle network."""

from __future__ import annotations

import torch

from services.upsampler.model import UpsampleJob
from services.upsampler.pixel_shuffle_unet import PixelShuffleUNet


def _job(size: int, *, seed=0, steps=3, noise_level=0) -> UpsampleJob:
    generator = torch.Generator().manual_seed(seed)
    image = torch.rand(1, 3, size, size, generator=generator) * 2 - 1
    return UpsampleJob(image, steps, "unclip", generator, noise_level=noise_level)


def test_256_uses_super_res_last_only_on_the_last_step(stage_models):
    model = stage_models.upsampler_256
    calls = []
    hooks = [
        net.register_forward_pre_hook(lambda _m, _a, name=name: calls.append(name))
        for name, net in (("first", model.first), ("last", model.last))
    ]
    try:
        trajectory = model.start(_job(64))
        while not trajectory.done:
            model.denoise([trajectory])
    finally:
        for hook in hooks:
            hook.remove()
    assert calls == ["first", "first", "last"]
    image = model.finish(trajectory)
    assert image.shape == (1, 3, 256, 256) and image.abs().max() <= 1


def test_no_noise_level_draws_nothing_but_the_latents(stage_models):
    job = _job(64)
    state = job.generator.get_state()
    stage_models.upsampler_256.start(job)
    expected = torch.Generator().set_state(state)
    torch.randn(1, 3, 256, 256, generator=expected)
    assert torch.equal(job.generator.get_state(), expected.get_state())


def test_1024_noise_augments_and_conditions_on_the_level(stage_models):
    model = stage_models.upsampler_1024
    assert model.conditions_on_level and model.output_size == 1024
    clean = model.start(_job(256, seed=1, noise_level=0)).conditioning["image"]
    noisy = model.start(_job(256, seed=1, noise_level=500))
    assert not torch.allclose(noisy.conditioning["image"], clean)
    assert noisy.conditioning["class_labels"].tolist() == [500]
    noisy.step = noisy.total_steps - 1
    model.denoise([noisy])
    assert model.finish(noisy).shape == (1, 3, 1024, 1024)


def test_pixel_shuffle_unet_round_trips(tmp_path):
    torch.manual_seed(0)
    net = PixelShuffleUNet(
        sample_size=64,
        shuffle_factor=4,
        block_out_channels=(8, 16),
        norm_num_groups=4,
        layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D",) * 2,
        up_block_types=("ResnetUpsampleBlock2D",) * 2,
        noise_level_embedding=True,
    ).eval()
    net.save_pretrained(tmp_path)
    loaded = PixelShuffleUNet.from_pretrained(tmp_path).eval()

    def public(config):
        return {k: list(v) if isinstance(v, tuple) else v for k, v in config.items() if not k.startswith("_")}

    assert public(loaded.config) == public(net.config)
    sample, t = torch.randn(1, 6, 64, 64), torch.tensor([10])
    with torch.inference_mode():
        out = net(sample, t, class_labels=t).sample
        assert out.shape == (1, 3, 64, 64)
        torch.testing.assert_close(loaded(sample, t, class_labels=t).sample, out)
