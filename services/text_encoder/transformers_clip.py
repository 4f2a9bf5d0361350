"""transformers CLIP{Text,Vision}ModelWithProjection folders -> open_clip towers: config and weight names.

Only config.json and the weights file are read (no transformers model is built). The open_clip tower
is built from a config derived from the transformers one, and the state dict is renamed at load:
q/k/v projections are fused into open_clip's in_proj; the output projections become open_clip's
[width, dim] parameters as transposed VIEWS of transformers' [dim, width] weights (load with
assign=True), so that open_clip's `x @ proj` runs the very GEMM of transformers' nn.Linear: a
contiguous copy changes the rounding, and the decoder's first step amplifies that ~10^4 times.
For the same reason the towers use open_clip's "custom" residual blocks: their attention is
F.scaled_dot_product_attention on q/k/v sliced from one projection, as transformers' sdpa attention
computes it, where nn.MultiheadAttention's fused kernel rounds differently.

Pooling of the text tower matches transformers' CLIPTextTransformer (5.x): a config whose
eos_token_id is 2 (the value before transformers PR #24773, as in OpenAI's and Karlo's configs) pools
at the argmax of the ids (end-of-text is the highest id); any other eos_token_id pools at its first
occurrence.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from open_clip.model import _build_text_tower, _build_vision_tower
from open_clip.transformer import TextTransformer, VisionTransformer
from safetensors.torch import load_file

_ACTIVATIONS = {"quick_gelu": True, "gelu": False}  # hidden_act -> open_clip's quick_gelu flag
_LEGACY_EOS_ID = 2
_LAYER = {
    "layer_norm1": "ln_1",
    "layer_norm2": "ln_2",
    "mlp.fc1": "mlp.c_fc",
    "mlp.fc2": "mlp.c_proj",
    "self_attn.out_proj": "attn.out_proj",
}
_LAYER_KEY = re.compile(r"^encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")


def read_config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


def _common(config: dict) -> dict:
    """open_clip tower arguments shared by text and vision; rejects what open_clip cannot express."""
    act = config.get("hidden_act", "quick_gelu")
    if act not in _ACTIVATIONS:
        raise ValueError(f"config.json: hidden_act {act!r} is not supported (quick_gelu or gelu)")
    width, intermediate = int(config["hidden_size"]), int(config["intermediate_size"])
    if int(width * (intermediate / width)) != intermediate:
        raise ValueError(
            f"config.json: intermediate_size {intermediate} is not expressible as an "
            f"open_clip mlp_ratio of width {width}"
        )
    common = {
        "width": width,
        "layers": int(config["num_hidden_layers"]),
        "mlp_ratio": intermediate / width,
        "block_type": "custom",
    }
    eps = float(config.get("layer_norm_eps", 1e-5))
    if eps != 1e-5:  # open_clip's LayerNorm default
        common["norm_kwargs"] = {"eps": eps}
    return common


def build_text_tower(config: dict) -> TextTransformer:
    """An open_clip text tower (random weights) shaped like a CLIPTextModelWithProjection config."""
    eos = int(config.get("eos_token_id", _LEGACY_EOS_ID))
    text_cfg = {
        **_common(config),
        "context_length": int(config.get("max_position_embeddings", 77)),
        "vocab_size": int(config["vocab_size"]),
        "heads": int(config["num_attention_heads"]),
        "pool_type": "argmax" if eos == _LEGACY_EOS_ID else "eos",
        "eos_id": eos,
        "proj_type": "linear",
        "proj_bias": False,
    }
    return _build_text_tower(
        int(config["projection_dim"]),
        text_cfg,
        quick_gelu=_ACTIVATIONS[config.get("hidden_act", "quick_gelu")],
    )


def build_vision_tower(config: dict) -> VisionTransformer:
    """An open_clip vision tower (random weights) shaped like a CLIPVisionModelWithProjection config."""
    common = _common(config)
    vision_cfg = {
        **common,
        "image_size": int(config["image_size"]),
        "patch_size": int(config["patch_size"]),
        "head_width": common["width"] // int(config["num_attention_heads"]),
    }
    return _build_vision_tower(
        int(config["projection_dim"]),
        vision_cfg,
        quick_gelu=_ACTIVATIONS[config.get("hidden_act", "quick_gelu")],
    )


def _layers(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """encoder.layers.i.* (under `prefix`) -> transformer.resblocks.i.*, q/k/v fused into in_proj."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        match = _LAYER_KEY.match(key.removeprefix(prefix)) if key.startswith(prefix) else None
        if not match:
            continue
        index, name, kind = match.groups()
        block = f"transformer.resblocks.{index}"
        if name == "self_attn.q_proj":
            qkv = [state[f"{prefix}encoder.layers.{index}.self_attn.{p}_proj.{kind}"] for p in "qkv"]
            out[f"{block}.attn.in_proj_{kind}"] = torch.cat(qkv)
        elif name in _LAYER:
            out[f"{block}.{_LAYER[name]}.{kind}"] = value
    return out


def text_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CLIPTextModelWithProjection's state dict renamed for open_clip's TextTransformer."""
    p = "text_model."
    return {
        "token_embedding.weight": state[f"{p}embeddings.token_embedding.weight"],
        "positional_embedding": state[f"{p}embeddings.position_embedding.weight"],
        **_layers(state, p),
        "ln_final.weight": state[f"{p}final_layer_norm.weight"],
        "ln_final.bias": state[f"{p}final_layer_norm.bias"],
        "text_projection": state["text_projection.weight"].t(),
    }


def vision_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """CLIPVisionModelWithProjection's state dict renamed for open_clip's VisionTransformer."""
    p = "vision_model."
    return {
        "class_embedding": state[f"{p}embeddings.class_embedding"],
        "conv1.weight": state[f"{p}embeddings.patch_embedding.weight"],
        "positional_embedding": state[f"{p}embeddings.position_embedding.weight"],
        "ln_pre.weight": state[f"{p}pre_layrnorm.weight"],
        "ln_pre.bias": state[f"{p}pre_layrnorm.bias"],
        **_layers(state, p),
        "ln_post.weight": state[f"{p}post_layernorm.weight"],
        "ln_post.bias": state[f"{p}post_layernorm.bias"],
        "proj": state["visual_projection.weight"].t(),
    }


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)
