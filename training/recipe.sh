#!/usr/bin/env bash
# The whole recipe, one step after another (each uses the machine's cores itself; two at once would
# only share them), each with its log under runs/, then the bundle.
# Usage: bash training/recipe.sh [CONFIG_DIR (training/configs)] [BUNDLE_OUT (models/demo)]
# Every step resumes from its checkpoint, so running the recipe again goes on where it stopped.
set -euo pipefail
configs=${1:-training/configs}
out=${2:-models/demo}
python=${PYTHON:-python}
mkdir -p runs

step() {  # step MODULE CONFIG_NAME
    "$python" -m "training.$1" --config "$configs/$2.json" > "runs/$2.log" 2>&1
}

step clip clip
step prior prior              # needs clip
step decoder decoder          # needs clip
step upsampler upsampler_256
step upsampler upsampler_1024
"$python" -m training.bundle --config training/configs/bundle.json --out "$out"
