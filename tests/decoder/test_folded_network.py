"""A decoder UNet on folded pixels (3 f^2 channels at 1/f the side) serves as a full-size decoder."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from diffusers import UNet2DConditionModel

from services.decoder.folded_network import FoldedNetwork, fold_factor, unfolded
from services.decoder.model import DecoderJob, DecoderModel
from unclip_mesh.bundles.tiny import CROSS_ATTENTION_DIM


def _folded_unet(factor: int) -> UNet2DConditionModel:
    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=64 // factor,
        in_channels=3 * factor**2,
        out_channels=6 * factor**2,
        layers_per_block=1,
        down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn",
        block_out_channels=(16, 32),
        norm_num_groups=8,
        cross_attention_dim=CROSS_ATTENTION_DIM,
        attention_head_dim=8,
        resnet_time_scale_shift="scale_shift",
        class_embed_type="identity",
    ).eval()


@pytest.mark.parametrize(("channels", "factor"), [(3, 1), (12, 2), (48, 4)])
def test_fold_factor_is_read_off_the_input_channels(channels, factor):
    assert fold_factor(channels) == factor


@pytest.mark.parametrize("channels", [0, 6, 9, 47])
def test_a_channel_count_that_is_not_rgb_folded_is_refused(channels):
    with pytest.raises(ValueError, match="3 x f\\^2 input channels"):
        fold_factor(channels)


def test_an_unfolded_network_is_used_as_it_is():
    network = _folded_unet(1)
    assert unfolded(network) is network


def test_the_folded_network_folds_the_sample_and_unfolds_the_prediction():
    unet = _folded_unet(2)
    network = unfolded(unet)
    assert isinstance(network, FoldedNetwork)
    assert (network.config.sample_size, network.config.in_channels) == (64, 3)
    sample, timestep = torch.randn(2, 3, 64, 64), torch.tensor([10, 500])
    conditioning = {
        "encoder_hidden_states": torch.randn(2, 5, CROSS_ATTENTION_DIM),
        "class_labels": torch.randn(2, 64),
    }
    with torch.no_grad():
        output = network(sample=sample, timestep=timestep, **conditioning).sample
        expected = F.pixel_shuffle(unet(F.pixel_unshuffle(sample, 2), timestep, **conditioning).sample, 2)
    assert output.shape == (2, 6, 64, 64)
    torch.testing.assert_close(output, expected)


def test_a_decoder_model_with_a_folded_unet_draws_64_px_images(stage_models, tiny_bundle):
    model = DecoderModel(_folded_unet(2), stage_models.decoder.text_proj, tiny_bundle, torch.device("cpu"))
    assert model.image_size == 64
    text, _ = stage_models.text_encoder.encode_text(["a red cube"])
    job = DecoderJob(
        torch.randn(1, 32, generator=torch.Generator().manual_seed(1)),
        text,
        stage_models.text_encoder.unconditional(),
        3,
        4.0,
        "unclip",
        torch.Generator().manual_seed(0),
    )
    trajectory = model.start(job)
    while not trajectory.done:
        model.denoise([trajectory])
    image = model.finish(trajectory)
    assert image.shape == (1, 3, 64, 64) and image.abs().max() <= 1
