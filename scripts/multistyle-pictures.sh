#!/usr/bin/env bash
# The pictures of docs/multi-style.md and the README's style-mix strip, from the shipped
# multi-style model (styles/collection.safetensors) and scripts/multistyle-compare.sh's
# one-style models of seed 1: held-out photos (data/eval, never trained on) in each style of the
# one network beside the same painting trained alone, and one photo through a row of mixes; and,
# when scripts/extend-compare.sh's seed-1 runs are there (one-style base, 300 steps; 3-style
# base, 600 steps), Auvers added by --extend beside Auvers trained from the start.
# Needs scripts/demo.sh's build and scripts/multistyle-compare.sh. About a minute on 2 cores.
#
# Usage: scripts/multistyle-pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
MODEL=styles/collection.safetensors
WORK=${MULTISTYLE_DIR:-runs/multistyle-compare}
OUT=out/multistyle-pictures
INFER=(target/release/fauve-infer --device cpu --max-size 320)
rm -rf "$OUT"
PHOTOS=(data/eval/mate-Garden.jpg data/eval/mate-Storm.jpg)
# The first four styles: the 4-style model's (the paintings added later by --extend left them
# bit for bit as they were), which scripts/multistyle-compare.sh also trained alone.
mapfile -t STYLES < <(target/release/fauve-infer --model $MODEL --list-styles | cut -f2 | head -4)
rows=()
for photo in "${PHOTOS[@]}"; do
    stem=$(basename "$photo" .jpg)
    multi=("$photo")
    alone=("$photo")
    for s in "${STYLES[@]}"; do
        "${INFER[@]}" --model $MODEL --style "$s" "$photo" -o "$OUT/multi/$stem-$s.png" >/dev/null 2>&1
        "${INFER[@]}" --model "$WORK/one-$s-1/model.safetensors" "$photo" \
            -o "$OUT/alone/$stem-$s.png" >/dev/null 2>&1
        multi+=("$OUT/multi/$stem-$s.png")
        alone+=("$OUT/alone/$stem-$s.png")
    done
    rows+=("$(IFS=,; echo "${multi[*]}")" "$(IFS=,; echo "${alone[*]}")")
done
"$TOOLS_PY" scripts/picture_grid.py docs/multi-style.jpg 160 "${rows[@]}"

# The mix strip: the first style to the second in five steps, then to the third and fourth.
photo=data/eval/mate-Garden.jpg
strip=("$photo")
mixes=("${STYLES[0]}=1" "${STYLES[0]}=0.5,${STYLES[1]}=0.5" "${STYLES[1]}=1"
       "${STYLES[1]}=0.5,${STYLES[2]}=0.5" "${STYLES[2]}=1" "${STYLES[2]}=0.5,${STYLES[3]}=0.5"
       "${STYLES[3]}=1")
for i in "${!mixes[@]}"; do
    "${INFER[@]}" --model $MODEL --mix "${mixes[$i]}" "$photo" -o "$OUT/mix/$i.png" >/dev/null 2>&1
    strip+=("$OUT/mix/$i.png")
done
"$TOOLS_PY" scripts/picture_grid.py docs/style-mix.jpg 150 "$(IFS=,; echo "${strip[*]}")"
echo "multistyle-pictures: docs/multi-style.jpg and docs/style-mix.jpg written"

# --extend: the held-out Garden photo with Auvers added to a one-style and a 3-style base, then
# Auvers trained into the 4-style network and alone (seed 1 of each).
ONE_BASE=$WORK/extend-1-s300/model.safetensors
THREE_BASE=$WORK/extend-three-1-s600/model.safetensors
[ -f "$ONE_BASE" ] && [ -f "$THREE_BASE" ] || exit 0
row=("$photo")
for model in "$ONE_BASE" "$THREE_BASE" "$WORK/multi-1/model.safetensors"; do
    name=$(basename "$(dirname "$model")")
    "${INFER[@]}" --model "$model" --style van_gogh_auvers "$photo" -o "$OUT/extend/$name.png" \
        >/dev/null 2>&1
    row+=("$OUT/extend/$name.png")
done
"${INFER[@]}" --model "$WORK/one-van_gogh_auvers-1/model.safetensors" "$photo" \
    -o "$OUT/extend/alone.png" >/dev/null 2>&1
row+=("$OUT/extend/alone.png")
"$TOOLS_PY" scripts/picture_grid.py docs/extend.jpg 180 "$(IFS=,; echo "${row[*]}")"
echo "multistyle-pictures: docs/extend.jpg written"
