#!/usr/bin/env bash
# Trains the shipped multi-style model, styles/collection.safetensors, at demo scale on the CPU:
# four paintings in one network (scripts/multistyle-compare.sh's seed-1 model: configs/demo.toml,
# 96 px crops, 200 steps per painting, round-robin), then more paintings added one at a time
# with `fauve-train --extend` (STEPS each, only their norm parameters training). About
# 11 minutes for the four and 1.5 per added painting (19 are added) on 2 cores. Needs
# scripts/demo.sh's build and downloads and scripts/fetch-paintings.sh.
#
# Usage: scripts/train-collection.sh [PAINTING...]   (default: the list below; STEPS=200)
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-200}
P=data/styles/paintings
ADD=("$@")
# Every painting of data/styles and data/styles/paintings not in the 4-style model, in the
# order they were added; the Pieta (a photograph of a sculpture) is left out.
[ $# -eq 0 ] && ADD=(data/styles/autumn.jpg $P/hokusai_poppies.jpg $P/cassatt_summertime.jpg
    $P/renoir_moulin_de_la_galette.jpg $P/bruegel_harvesters.jpg $P/hiroshige_inokashira_snow.jpg
    $P/arcimboldo_spring.jpg $P/mona_lisa.jpg $P/hokusai_ryogoku_sunset.jpg
    $P/hokusai_kazusa_sea_route.jpg $P/hokusai_ejiri.jpg $P/hokusai_oiran_and_kamuro.jpg
    $P/hokusai_woman_with_fan.jpg $P/hiroshige_horse_mackerel.jpg $P/bellini_pala_di_pesaro.jpg
    $P/durer_lion.jpg $P/renoir_girls_at_the_piano.jpg $P/bazille_aigues_mortes.jpg
    $P/arcimboldo_librarian.jpg)
[ -f $P/paintings.tsv ] || scripts/fetch-paintings.sh
WORK=runs/collection
BASE=${MULTISTYLE_DIR:-runs/multistyle-compare}/multi-1/model.safetensors
[ -f "$BASE" ] || scripts/multistyle-compare.sh 1
mkdir -p $WORK
model=$BASE
for p in "${ADD[@]}"; do
    name=$(basename "$p" .jpg)
    run=$WORK/add-$name
    if [ ! -f $run/model.safetensors ]; then
        rm -rf "$run"
        target/release/fauve-train --extend "$model" --style-image "$p" --steps "$STEPS" \
            --run-dir "$run" --sample-every 0 --checkpoint-every 100000 --log-every 50 2>&1 |
            grep -E '^(training|done)'
    fi
    model=$run/model.safetensors
done
# The shipped file: the last model, named as a collection (tensors unchanged).
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
"$TOOLS_PY" - "$model" styles/collection.safetensors <<'PY'
import sys
from safetensors import safe_open
from safetensors.numpy import save_file
src, dst = sys.argv[1:]
with safe_open(src, "numpy") as f:
    meta = f.metadata()
    tensors = {k: f.get_tensor(k) for k in f.keys()}
meta["style_name"] = "collection"
save_file(tensors, dst, metadata=meta)
PY
chmod 644 styles/collection.safetensors
target/release/fauve-infer --model styles/collection.safetensors --list-styles | cut -f1,2
