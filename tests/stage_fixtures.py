"""Fixtures for the stage model tests: one tiny random bundle per session, the models loaded once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from services.bundle.loader import Bundle
from unclip_mesh.bundles.tiny import write_tiny_bundle

torch.set_num_threads(min(2, torch.get_num_threads()))

_cache: dict[str, object] = {}


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """Shared and read-only: tests that damage a bundle copy it first."""
    if "bundle" not in _cache:
        _cache["bundle"] = write_tiny_bundle(tmp_path_factory.mktemp("tiny_bundle"), seed=0)
    return _cache["bundle"]


def _models(bundle: Bundle, dtype: torch.dtype) -> SimpleNamespace:
    """Every stage model of `bundle` on CPU, loaded once per compute dtype."""
    key = f"models {dtype}"
    if key not in _cache:
        from services.decoder.model import DecoderModel
        from services.prior.model import PriorModel
        from services.text_encoder.model import TextEncoderModel
        from services.upsampler.model import UpsamplerModel

        _cache[key] = SimpleNamespace(
            text_encoder=TextEncoderModel.load(bundle, "cpu", dtype),
            prior=PriorModel.load(bundle, "cpu", dtype),
            decoder=DecoderModel.load(bundle, "cpu", dtype),
            upsampler_256=UpsamplerModel.load(bundle, "upsampler_256", "cpu", dtype),
            upsampler_1024=UpsamplerModel.load(bundle, "upsampler_1024", "cpu", dtype),
        )
    return _cache[key]


@pytest.fixture(scope="session")
def stage_models(tiny_bundle: Bundle) -> SimpleNamespace:
    """Every stage model of the tiny bundle, loaded once on CPU."""
    return _models(tiny_bundle, torch.float32)


@pytest.fixture(scope="session")
def bfloat16_stage_models(tiny_bundle: Bundle) -> SimpleNamespace:
    """The same models with their networks in bfloat16 (--compute-dtype bfloat16)."""
    return _models(tiny_bundle, torch.bfloat16)
