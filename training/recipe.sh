#!/usr/bin/env bash
# The whole recipe, each step in the background with its log under runs/: CLIP first, then prior and
# decoder (they need CLIP) beside the two upsamplers (they need nothing), then the bundle.
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

step upsampler upsampler_256 & up256=$!
step upsampler upsampler_1024 & up1024=$!
step clip clip
step prior prior & prior=$!
step decoder decoder & decoder=$!
for pid in $prior $decoder $up256 $up1024; do wait "$pid"; done
"$python" -m training.bundle --config training/configs/bundle.json --out "$out"
