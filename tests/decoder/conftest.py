"""Shared fixtures (the tiny random bundle) for this folder."""

from tests.stage_fixtures import bfloat16_stage_models, stage_models, tiny_bundle  # noqa: F401
