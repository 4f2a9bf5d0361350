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


@pytest.fixture(scope="session")
def stage_models(tiny_bundle: Bundle) -> SimpleNamespace:
    """Every stage model of the tiny bundle, loaded once on CPU."""
    if "models" not in _cache:
        from services.decoder.model import DecoderModel
        from services.prior.model import PriorModel
        from services.text_encoder.model import TextEncoderModel
        from services.upsampler.model import UpsamplerModel

        _cache["models"] = SimpleNamespace(
            text_encoder=TextEncoderModel.load(tiny_bundle), prior=PriorModel.load(tiny_bundle),
            decoder=DecoderModel.load(tiny_bundle),
            upsampler_256=UpsamplerModel.load(tiny_bundle, "upsampler_256"),
            upsampler_1024=UpsamplerModel.load(tiny_bundle, "upsampler_1024"))
    return _cache["models"]
