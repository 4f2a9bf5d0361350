#!/usr/bin/env bash
# Sets up the environment, starts a local mesh on the shipped demo bundle, and writes out.png.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/unclip-mesh generate "${1:-a red star on a white background}" -o "${2:-out.png}"
