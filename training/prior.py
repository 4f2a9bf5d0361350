"""Step 2: the diffusion prior, CLIP text -> CLIP image embedding (PriorTransformer predicting x0).

Works in the prior's normalised space ((embedding - clip_mean) / clip_std, statistics of the world's
image embeddings); the text conditioning is replaced by the empty prompt's 10% of the time (guidance).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import PriorTransformer, UnCLIPScheduler

from training import world
from training.cli import read_config
from training.clip_features import FrozenClip, drop_text, embedding_statistics
from training.loop import LoopConfig, train
from training.noise import add_noise, schedule


def main(argv: list[str] | None = None) -> None:
    config, device = read_config(__doc__.splitlines()[0], argv)
    clip = FrozenClip.load(Path(config["clip"]), device)
    empty = clip.text([""])
    mean, std = embedding_statistics(clip, config["statistics_samples"], config["loop"]["seed"])
    prior = PriorTransformer(
        **config["prior"], embedding_dim=mean.shape[1], num_embeddings=clip.backend.context_length
    ).to(device)
    with torch.no_grad():
        prior.clip_mean.copy_(mean)
        prior.clip_std.copy_(std)
    prior.clip_mean.requires_grad_(False)
    prior.clip_std.requires_grad_(False)
    process, batch_size, drop_rate = schedule(), config["batch_size"], config["text_drop"]

    def loss_fn(generator: torch.Generator) -> torch.Tensor:
        scenes = world.sample_scenes(batch_size, generator)
        target = (clip.images(world.render(scenes, clip.backend.image_size, device=device)) - mean) / std
        drop = torch.rand(batch_size, generator=generator) < drop_rate
        text = drop_text(clip.text(world.captions(scenes, generator)), empty, drop)
        noisy, timesteps, _ = add_noise(process, target, generator)
        predicted = prior(
            noisy,
            timestep=timesteps,
            proj_embedding=text.text_embedding,
            encoder_hidden_states=text.token_states,
            attention_mask=text.attention_mask,
        ).predicted_image_embedding
        return F.mse_loss(predicted, target)

    loop = LoopConfig.from_dict(config["loop"])
    trained = train(loop, {"prior": prior}, loss_fn)["prior"]
    final = loop.run_dir / "final"
    trained.save_pretrained(final / "prior")
    UnCLIPScheduler(
        variance_type="fixed_small_log",
        prediction_type="sample",
        clip_sample_range=config["clip_sample_range"],
    ).save_pretrained(final / "prior_scheduler")


if __name__ == "__main__":
    main()
