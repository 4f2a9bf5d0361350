#!/usr/bin/env bash
# Sets up the environment and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The Triton tests need .venv-triton (about 2 minutes to build); without it they skip.
bash scripts/triton-venv.sh || echo "test.sh: .venv-triton not built; the Triton tests will skip" >&2
exec .venv/bin/python -m pytest -q "$@"
