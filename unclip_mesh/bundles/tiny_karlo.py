"""A tiny RANDOM checkpoint in Karlo's layout (diffusers' unCLIP folders, transformers CLIP): for the
parity tests against UnCLIPPipeline / UnCLIPImageVariationPipeline and for quick local meshes.

The models are diffusers' own unCLIP test components (`get_dummy_components()`), with three changes:
the decoder draws 64 px and the super-resolution UNets 256 px (the sizes the API serves; their
mid-block attention is off, which at 256 px would cost seconds per step on CPU), the CLIP vocabulary
is the real CLIP BPE (open_clip's copy, written as vocab.json/merges.txt with Karlo's tokenizer
config: '!' is the pad token), and the prior's CLIP mean/std are non-trivial (they start at 0 std).
Three layouts, with the same weights (each component is built under its own seed):
- "text-to-image", as `kakaobrain/karlo-v1-alpha` is published: UnCLIPPipeline.save_pretrained;
- "image-variations", as `kakaobrain/karlo-v1-alpha-image-variations` is: UnCLIPImageVariationPipeline's
  save_pretrained (image_encoder/ and feature_extractor/, no prior/);
- "combined" (the default): the text-to-image folder plus the variations one's image_encoder/ and
  feature_extractor/, one folder that serves both pipelines (docs/CHECKPOINTS.md).
model_index.json records text_proj under the library name Karlo's does ("unclip"), which diffusers 0.42
no longer resolves.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import PriorTransformer, UnCLIPScheduler, UNet2DConditionModel, UNet2DModel
from diffusers.pipelines.deprecated.unclip import UnCLIPImageVariationPipeline, UnCLIPPipeline
from diffusers.pipelines.deprecated.unclip.text_proj import UnCLIPTextProjModel
from open_clip.tokenizer import SimpleTokenizer
from transformers import (
    CLIPImageProcessor,
    CLIPTextConfig,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
    CLIPVisionConfig,
    CLIPVisionModelWithProjection,
)

from services.bundle.loader import Bundle, open_bundle

EMBED_DIM = 32
LAYOUTS = ("combined", "text-to-image", "image-variations")
CONTEXT_LENGTH = 77
TOKENIZER_CONFIG = {
    "tokenizer_class": "CLIPTokenizer",
    "model_max_length": CONTEXT_LENGTH,
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "pad_token": "!",
}
_OPEN_CLIP_SPECIALS = {"<start_of_text>": "<|startoftext|>", "<end_of_text>": "<|endoftext|>"}


def write_tokenizer(folder: Path) -> None:
    """CLIP's BPE as vocab.json + merges.txt (transformers' names for the special tokens)."""
    bpe = SimpleTokenizer()
    vocab = {_OPEN_CLIP_SPECIALS.get(token, token): index for token, index in bpe.encoder.items()}
    merges = [" ".join(pair) for pair, _ in sorted(bpe.bpe_ranks.items(), key=lambda item: item[1])]
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps(TOKENIZER_CONFIG, indent=2))


def _text_encoder() -> CLIPTextModelWithProjection:
    return CLIPTextModelWithProjection(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=2,
            hidden_size=EMBED_DIM,
            projection_dim=EMBED_DIM,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=5,
            pad_token_id=1,
            vocab_size=len(SimpleTokenizer().encoder),
            max_position_embeddings=CONTEXT_LENGTH,
        )
    )


def _image_encoder() -> CLIPVisionModelWithProjection:
    return CLIPVisionModelWithProjection(
        CLIPVisionConfig(
            hidden_size=EMBED_DIM,
            projection_dim=EMBED_DIM,
            num_hidden_layers=5,
            num_attention_heads=4,
            image_size=32,
            intermediate_size=37,
            patch_size=1,
        )
    )


def _prior() -> PriorTransformer:
    prior = PriorTransformer(
        num_attention_heads=2,
        attention_head_dim=12,
        embedding_dim=EMBED_DIM,
        num_layers=1,
        num_embeddings=CONTEXT_LENGTH,
    )
    with torch.no_grad():
        prior.clip_mean.normal_(0.0, 0.1)
        prior.clip_std.uniform_(0.5, 1.5)
    return prior


def _super_res() -> UNet2DModel:
    return UNet2DModel(
        sample_size=256,
        layers_per_block=1,
        in_channels=6,
        out_channels=3,
        down_block_types=("ResnetDownsampleBlock2D",) * 2,
        up_block_types=("ResnetUpsampleBlock2D",) * 2,
        block_out_channels=(16, 32),
        norm_num_groups=8,
        add_attention=False,
    )


def _components() -> dict[str, Callable[[], object]]:
    """UnCLIPPipeline's components in its argument names, each built under its own seed."""
    return {
        "text_encoder": _text_encoder,
        "prior": _prior,
        "text_proj": lambda: UnCLIPTextProjModel(
            clip_embeddings_dim=EMBED_DIM, time_embed_dim=128, cross_attention_dim=100
        ),
        "decoder": lambda: UNet2DConditionModel(
            sample_size=64,
            in_channels=3,
            out_channels=6,
            layers_per_block=1,
            down_block_types=("ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
            up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D"),
            mid_block_type="UNetMidBlock2DSimpleCrossAttn",
            block_out_channels=(32, 64),
            cross_attention_dim=100,
            attention_head_dim=4,
            resnet_time_scale_shift="scale_shift",
            class_embed_type="identity",
        ),
        "super_res_first": _super_res,
        "super_res_last": _super_res,
        "prior_scheduler": lambda: UnCLIPScheduler(
            variance_type="fixed_small_log",
            prediction_type="sample",
            num_train_timesteps=1000,
            clip_sample_range=5.0,
        ),
        "decoder_scheduler": lambda: UnCLIPScheduler(
            variance_type="learned_range", prediction_type="epsilon", num_train_timesteps=1000
        ),
        "super_res_scheduler": lambda: UnCLIPScheduler(
            variance_type="fixed_small_log", prediction_type="epsilon", num_train_timesteps=1000
        ),
    }


def write_tiny_karlo(path: str | Path, seed: int = 0, layout: str = "combined") -> Bundle:
    """Write the tiny checkpoint in one of LAYOUTS to `path` (created; must not exist or be empty);
    open it."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {layout!r}")
    root = Path(path)
    root.mkdir(parents=True, exist_ok=True)
    write_tokenizer(root / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(root / "tokenizer", local_files_only=True)
    components = {}
    with torch.random.fork_rng(devices=[]):
        for index, (name, make) in enumerate(_components().items()):
            torch.manual_seed(seed + index)
            components[name] = make()
        torch.manual_seed(seed + len(components))
        image_encoder = _image_encoder()
    feature_extractor = CLIPImageProcessor(crop_size=32, size=32)
    if layout == "image-variations":
        del components["prior"], components["prior_scheduler"]
        UnCLIPImageVariationPipeline(
            tokenizer=tokenizer,
            image_encoder=image_encoder,
            feature_extractor=feature_extractor,
            **components,
        ).save_pretrained(root)
    else:
        UnCLIPPipeline(tokenizer=tokenizer, **components).save_pretrained(root)
    if layout == "combined":
        image_encoder.save_pretrained(root / "image_encoder")
        feature_extractor.save_pretrained(root / "feature_extractor")
    shutil.rmtree(root / "tokenizer")  # saved as tokenizer.json: put back Karlo's vocab.json/merges.txt
    write_tokenizer(root / "tokenizer")
    index_path = root / "model_index.json"
    index = json.loads(index_path.read_text())
    index["text_proj"] = ["unclip", "UnCLIPTextProjModel"]
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    return open_bundle(root)
