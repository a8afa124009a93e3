#!/usr/bin/env bash
# The slim Starry Night (configs/starry_night_slim.toml) against the shipped full model
# (styles/starry_night.safetensors) after the same recipe and steps (docs/slim.md): both scored
# by `fauve-train eval` on the 12 held-out photos of data/eval at 256 px under the one objective
# of that config; then docs/slim-vs-shipped.jpg, three held-out photos, each beside the shipped
# and the slim model.
# Needs scripts/demo.sh's build and downloads and the trained slim model. About a minute on 2
# cores. (Speed: scripts/bench.sh times both networks side by side.)
#
# Usage: scripts/slim-vs-shipped.sh [SLIM_MODEL]
#   (default: runs/starry_night_slim/model.safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
SLIM=${1:-runs/starry_night_slim/model.safetensors}
FULL=styles/starry_night.safetensors
OBJECTIVE=configs/starry_night_slim.toml
OUT=out/slim-vs-shipped
for f in target/release/fauve-train target/release/fauve-infer "$SLIM"; do
    [ -e "$f" ] || { echo "slim-vs-shipped: $f is missing (scripts/demo.sh builds; the" \
        "config trains the model)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"

echo "held-out scores (data/eval at 256 px, the objective of $OBJECTIVE):"
for m in "$FULL" "$SLIM"; do
    echo "  $m: $(target/release/fauve-train eval --model "$m" --photos data/eval --image-size 256 \
        --config "$OBJECTIVE" --device cpu 2>/dev/null | tail -1)"
done

# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
rows=()
for photo in data/eval/mate-Garden.jpg data/eval/mate-LadyBird.jpg data/eval/mate-FreshFlower.jpg; do
    stem=$(basename "$photo" .jpg)
    row=("$photo")
    for name in full slim; do
        m=$FULL
        [ $name = slim ] && m=$SLIM
        target/release/fauve-infer --device cpu --max-size 400 --model "$m" "$photo" \
            -o "$OUT/$stem-$name.png" >/dev/null 2>&1
        row+=("$OUT/$stem-$name.png")
    done
    rows+=("$(IFS=,; echo "${row[*]}")")
done
# Columns: the photo, the shipped model, the slim model.
"$TOOLS_PY" scripts/picture_grid.py docs/slim-vs-shipped.jpg 260 "${rows[@]}"
