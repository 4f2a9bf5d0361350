"""Step 4: a diffusion upsampler (64 -> 256 or 256 -> 1024), trained on random crops a quarter of the
target size, as the paper does.

The low-res source is blurred (gaussian, random sigma) some of the time, upscaled exactly as the
upsampler service does (bicubic, antialiased), cropped, noised to a random augmentation level (as the
service's noise_augment; the level is the network's class conditioning), and concatenated to the noisy
high-res crop. Predicts the clean crop or epsilon (config prediction_type). The 1024 network is our
PixelShuffleUNet (pixels folded into channels, so a step stays cheap on CPU).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchvision.transforms.v2.functional as TF
from diffusers import UnCLIPScheduler, UNet2DModel

from services.upsampler.pixel_shuffle_unet import PixelShuffleUNet
from training import world
from training.cli import read_config
from training.loop import LoopConfig, train
from training.noise import add_noise, schedule

NETWORKS = {"UNet2DModel": UNet2DModel, "PixelShuffleUNet": PixelShuffleUNet}


def degrade(source: torch.Tensor, config: dict, generator: torch.Generator) -> torch.Tensor:
    """Blur a random part of the batch with a random sigma (the paper's gaussian-blur augmentation)."""
    blurred = source.clone()
    for row in torch.nonzero(torch.rand(source.shape[0], generator=generator) < config["blur_probability"]):
        low, high = config["blur_sigma"]
        sigma = float(low + (high - low) * torch.rand(1, generator=generator))
        blurred[row] = TF.gaussian_blur(source[row], kernel_size=[5, 5], sigma=[sigma, sigma]).to(
            blurred.dtype
        )
    return blurred


def upscaled_window(source: torch.Tensor, size: int, window: tuple[int, int, int]) -> torch.Tensor:
    """The window (top, left, side; multiples of the factor) of `source` upscaled to `size` as the
    service upscales (bicubic, antialiased), computed from the source pixels around it only."""
    factor = size // source.shape[-1]
    top, left, side = (v // factor for v in window)
    margin = 2  # the bicubic kernel's reach, in source pixels
    y0, x0 = max(top - margin, 0), max(left - margin, 0)
    y1, x1 = min(top + side + margin, source.shape[-2]), min(left + side + margin, source.shape[-1])
    part = F.interpolate(
        source[:, :, y0:y1, x0:x1], scale_factor=factor, mode="bicubic", align_corners=False, antialias=True
    )
    oy, ox = (top - y0) * factor, (left - x0) * factor
    return part[:, :, oy : oy + window[2], ox : ox + window[2]]


def main(argv: list[str] | None = None) -> None:
    config, device = read_config(__doc__.splitlines()[0], argv)
    network_config = config["network"]
    network = NETWORKS[config["network_class"]](**network_config, in_channels=6, out_channels=3).to(device)
    process = schedule()
    prediction = config["prediction_type"]  # "sample" (x0) learns to copy the source far sooner
    scheduler = UnCLIPScheduler(variance_type="fixed_small_log", prediction_type=prediction)
    target_size, source_size = network_config["sample_size"], config["source_size"]
    crop, batch_size, max_level = target_size // 4, config["batch_size"], config["max_noise_level"]
    factor = target_size // source_size

    def loss_fn(generator: torch.Generator) -> torch.Tensor:
        scenes = world.sample_scenes(batch_size, generator)
        source = degrade(world.render(scenes, source_size, device=device), config, generator)
        levels = torch.randint(max_level + 1, (batch_size,), generator=generator)
        clean = torch.rand(batch_size, generator=generator) < config["clean_probability"]
        levels = torch.where(clean, 0, levels)
        top, left = (
            int(v) * factor
            for v in torch.randint((target_size - crop) // factor + 1, (2,), generator=generator)
        )
        condition = upscaled_window(source, target_size, (top, left, crop))
        noise = torch.randn(condition.shape, generator=generator).to(device)
        levels = levels.to(device)
        noised = process.add_noise(condition, noise, levels)  # the service's noise_augment, per row
        condition = torch.where((levels > 0).view(-1, 1, 1, 1), noised, condition)
        target = world.render(scenes, target_size, window=(top, left, crop), device=device)
        noisy, timesteps, eps = add_noise(process, target, generator)
        predicted = network(
            sample=torch.cat([noisy, condition], dim=1), timestep=timesteps, class_labels=levels
        ).sample
        return F.mse_loss(predicted, target if prediction == "sample" else eps)

    loop = LoopConfig.from_dict(config["loop"])
    trained = train(loop, {"network": network}, loss_fn)["network"]
    final = loop.run_dir / "final"
    trained.save_pretrained(final / "network")
    scheduler.save_pretrained(final / "scheduler")


if __name__ == "__main__":
    main()
