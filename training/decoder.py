"""Step 3: the 64 px decoder, CLIP image embedding (+ text) -> image (UNet2DConditionModel + text_proj).

Trained on exactly what UnCLIPPipeline's decoder loop feeds it: text_proj(image embedding, prompt
embedding, token states) -> class_labels + encoder_hidden_states, mask padded for the extra context
tokens. For guidance the image embedding is replaced by text_proj's learned null embedding 10% of the
time and the text by the empty prompt's encoding 50% of the time. Predicts epsilon, or the clean image
with `"prediction_type": "sample"`: an epsilon error at high noise says little about the image, so
the colour and shape, decided in those steps, are learnt far sooner from x0 targets. With
`"pixel_fold": f` the UNet runs at 1/f of the image's side on 3 f^2 channels (a wider network for the
same CPU time; services/decoder/folded_network.py).

With `"init": BUNDLE` in the config the networks start from that bundle's decoder/ and text_proj/ and
keep predicting what its decoder_scheduler/ says (a longer run on top of a committed bundle,
training/configs/decoder_continue.json).

The levers measured in docs/TRAINING.md are config keys (training/decoder_levers.py): "min_snr_gamma",
"high_noise_bias", "standardise_embedding", "shape_groups" and "caption_layout" (world.caption_layout);
"loop": {"bfloat16": true} autocasts.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from diffusers import UnCLIPScheduler, UNet2DConditionModel
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel

from services.decoder.folded_network import unfolded
from training import world
from training.cli import read_config
from training.clip_features import FrozenClip, drop_text, embedding_statistics
from training.decoder_levers import fold_standardisation, loss_weights, sample_timesteps, training_scenes
from training.loop import LoopConfig, train
from training.noise import TRAIN_TIMESTEPS, add_noise, schedule


def main(argv: list[str] | None = None) -> None:
    config, device = read_config(__doc__.splitlines()[0], argv)
    clip = FrozenClip.load(Path(config["clip"]), device)
    empty = clip.text([""])
    embed_dim = empty.text_embedding.shape[1]
    if "init" in config:
        init = Path(config["init"])
        decoder = UNet2DConditionModel.from_pretrained(init / "decoder", torch_dtype=torch.float32).to(device)
        text_proj = UnCLIPTextProjModel.from_pretrained(init / "text_proj", torch_dtype=torch.float32).to(
            device
        )
        prediction = UnCLIPScheduler.load_config(init / "decoder_scheduler")["prediction_type"]
    else:
        unet_config, fold = config["decoder"], config.get("pixel_fold", 1)
        folded = {
            "sample_size": unet_config["sample_size"] // fold,
            "in_channels": 3 * fold * fold,
            "out_channels": 3 * fold * fold,
        }
        decoder = UNet2DConditionModel(**{**unet_config, **folded}, class_embed_type="identity").to(device)
        text_proj = UnCLIPTextProjModel(
            clip_embeddings_dim=embed_dim,
            time_embed_dim=4 * unet_config["block_out_channels"][0],
            cross_attention_dim=unet_config["cross_attention_dim"],
        ).to(device)
        prediction = config.get("prediction_type", "epsilon")
    network = unfolded(decoder)
    process, batch_size, size = schedule(), config["batch_size"], network.config.sample_size
    mean, std = (
        embedding_statistics(clip, 8192, config["loop"]["seed"])
        if config.get("standardise_embedding")
        else (torch.zeros(1, embed_dim, device=device), torch.ones(1, embed_dim, device=device))
    )
    min_snr_gamma, bias = config.get("min_snr_gamma"), config.get("high_noise_bias", 1.0)
    caption_layout, shape_groups = config.get("caption_layout", False), config.get("shape_groups", False)

    def loss_fn(generator: torch.Generator) -> torch.Tensor:
        scenes = training_scenes(batch_size, generator, shape_groups)
        if caption_layout:
            scenes, captions = world.caption_layout(scenes, generator)
        rows = len(scenes)
        images = world.render(scenes, size, device=device)
        embeddings = (
            clip.images(
                F.interpolate(images, size=clip.backend.image_size, mode="area")
                if size != clip.backend.image_size
                else images
            )
            - mean
        ) / std
        drop_image = (torch.rand(rows, generator=generator) < config["image_embedding_drop"]).to(device)
        drop = torch.rand(rows, generator=generator) < config["text_drop"]
        if not caption_layout:  # drawn here, after the drops, as the open-layout recipe always drew them
            captions = world.captions(scenes, generator)
        text = drop_text(clip.text(captions), empty, drop)
        null = text_proj.learned_classifier_free_guidance_embeddings.expand_as(embeddings)
        embeddings = torch.where(drop_image[:, None], null, embeddings)
        hidden_states, time_embeddings = text_proj(
            image_embeddings=embeddings,
            prompt_embeds=text.text_embedding,
            text_encoder_hidden_states=text.token_states,
            do_classifier_free_guidance=False,
        )
        mask = F.pad(text.attention_mask, (text_proj.clip_extra_context_tokens, 0), value=True)
        timesteps = (
            None if bias == 1.0 else sample_timesteps(rows, TRAIN_TIMESTEPS, generator, bias).to(device)
        )
        noisy, timesteps, noise = add_noise(process, images, generator, timesteps)
        predicted = network(
            sample=noisy,
            timestep=timesteps,
            encoder_hidden_states=hidden_states,
            class_labels=time_embeddings,
            attention_mask=mask,
        ).sample
        target = images if prediction == "sample" else noise
        errors = (predicted.float() - target).pow(2).mean(dim=(1, 2, 3))
        return (errors * loss_weights(process, timesteps, min_snr_gamma)).mean()

    loop = LoopConfig.from_dict(config["loop"])
    trained = train(loop, {"decoder": decoder, "text_proj": text_proj}, loss_fn)
    fold_standardisation(trained["text_proj"], mean, std)
    final = loop.run_dir / "final"
    for name, module in trained.items():
        module.save_pretrained(final / name)
    UnCLIPScheduler(variance_type="fixed_small_log", prediction_type=prediction).save_pretrained(
        final / "decoder_scheduler"
    )


if __name__ == "__main__":
    main()
