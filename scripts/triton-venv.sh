#!/usr/bin/env bash
# Builds .venv-triton: the interpreter `unclip-mesh triton serve` hosts a stage's network with
# (it runs this repository's code from the checkout, so the project itself is not installed there).
# PyTriton's Python backend stub links Debian's libpython3.11, so the venv must come from Debian's
# own python3 (apt package python3-venv); another 3.11 build makes the stub die at start.
# Idempotent: a second run only checks the stamp of scripts/triton-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${TRITON_PYTHON:-/usr/bin/python3}
if ! "$PYTHON" -c 'import ensurepip, venv' 2>/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
  else
    echo "triton-venv: $PYTHON has no venv module; install Debian's python3-venv" >&2
    exit 1
  fi
fi
if [ ! -x .venv-triton/bin/python ]; then
  "$PYTHON" -m venv .venv-triton
fi
stamp=.venv-triton/.installed-$(sha256sum scripts/triton-requirements.txt | cut -c1-16)
if [ ! -f "$stamp" ]; then
  .venv-triton/bin/python -m pip install -q --upgrade pip
  .venv-triton/bin/python -m pip install -q -r scripts/triton-requirements.txt
  rm -f .venv-triton/.installed-*
  touch "$stamp"
fi
