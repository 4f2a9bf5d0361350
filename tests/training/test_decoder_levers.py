"""The decoder's training levers: the standardised embedding folds into text_proj exactly, and the
timestep weighting and sampling do what they say."""

from __future__ import annotations

import torch
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel

from training.decoder_levers import fold_standardisation, loss_weights, sample_timesteps, training_scenes
from training.noise import TRAIN_TIMESTEPS, schedule


def _text_proj(seed: int) -> UnCLIPTextProjModel:
    torch.manual_seed(seed)
    model = UnCLIPTextProjModel(clip_embeddings_dim=8, time_embed_dim=16, cross_attention_dim=4).eval()
    with torch.no_grad():
        model.learned_classifier_free_guidance_embeddings.normal_()
    return model


def test_folded_text_proj_on_raw_embeddings_equals_the_trained_one_on_standardised():
    trained, folded = _text_proj(0), _text_proj(0)
    mean, std = torch.randn(1, 8), torch.rand(1, 8) + 0.5
    fold_standardisation(folded, mean, std)
    raw = torch.randn(3, 8) * std + mean
    text = {"prompt_embeds": torch.randn(6, 8), "text_encoder_hidden_states": torch.randn(6, 5, 8)}
    with torch.no_grad():  # guided: the null embedding's half is compared too
        expected = trained(image_embeddings=(raw - mean) / std, do_classifier_free_guidance=True, **text)
        actual = folded(image_embeddings=raw, do_classifier_free_guidance=True, **text)
    for e, a in zip(expected, actual, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


def test_min_snr_weights_cap_the_clean_end_and_fall_at_the_noisy_end():
    process, timesteps = schedule(), torch.tensor([0, 500, 999])
    assert torch.equal(loss_weights(process, timesteps, None), torch.ones(3))
    weights = loss_weights(process, timesteps, 5.0)
    assert weights[0] == 1.0 and weights[2] < weights[1] < 1.0


def test_high_noise_bias_moves_timesteps_to_the_noisy_end():
    uniform = sample_timesteps(4000, TRAIN_TIMESTEPS, torch.Generator().manual_seed(0), 1.0)
    biased = sample_timesteps(4000, TRAIN_TIMESTEPS, torch.Generator().manual_seed(0), 2.0)
    assert int(biased.min()) >= 0 and int(biased.max()) < TRAIN_TIMESTEPS
    assert abs(uniform.float().mean() - 500) < 25 and biased.float().mean() > 600


def test_shape_groups_give_groups_of_three():
    scenes = training_scenes(12, torch.Generator().manual_seed(0), shape_groups=True)
    assert len(scenes) == 12
    assert all(len(set(scenes.shape[i : i + 3].tolist())) == 3 for i in range(0, 12, 3))
    assert len(training_scenes(12, torch.Generator().manual_seed(0), shape_groups=False)) == 12
