"""A tiny random Karlo-layout checkpoint per session, and its stage models loaded once."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from services.bundle.loader import Bundle
from unclip_mesh.bundles.tiny_karlo import write_tiny_karlo

_cache: dict[str, object] = {}


@pytest.fixture(scope="session")
def tiny_karlo(tmp_path_factory: pytest.TempPathFactory) -> Bundle:
    """Shared and read-only: tests that damage it copy it first."""
    if "bundle" not in _cache:
        _cache["bundle"] = write_tiny_karlo(tmp_path_factory.mktemp("tiny_karlo"), seed=0)
    return _cache["bundle"]


@pytest.fixture(scope="session")
def karlo_models(tiny_karlo: Bundle) -> SimpleNamespace:
    if "models" not in _cache:
        from services.decoder.model import DecoderModel
        from services.prior.model import PriorModel
        from services.text_encoder.model import TextEncoderModel
        from services.upsampler.model import UpsamplerModel

        _cache["models"] = SimpleNamespace(
            text_encoder=TextEncoderModel.load(tiny_karlo),
            prior=PriorModel.load(tiny_karlo),
            decoder=DecoderModel.load(tiny_karlo),
            upsampler_256=UpsamplerModel.load(tiny_karlo, "upsampler_256"),
        )
    return _cache["models"]
