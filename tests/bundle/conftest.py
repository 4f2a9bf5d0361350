"""Shared fixtures (the tiny random bundle, the tiny Karlo-layout checkpoint) for this folder."""

from tests.karlo_fixtures import karlo_models, tiny_karlo  # noqa: F401
from tests.stage_fixtures import stage_models, tiny_bundle  # noqa: F401
