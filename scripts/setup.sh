#!/usr/bin/env bash
# Creates .venv with the project and its test tools, and installs buf (proto lint) under .tools/.
# Idempotent: a second run only checks that everything is in place.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e ".[dev]"
  touch "$stamp"
fi
if [ ! -x .tools/node_modules/.bin/buf ] && command -v npm >/dev/null; then
  npm install --silent --prefix .tools @bufbuild/buf@1.75.0 >/dev/null
fi
