#!/usr/bin/env bash
# Regenerates the pictures of the shipped model (styles/starry_night.safetensors) that the
# README and docs/shipped-model.md show, and prints its held-out score. Needs the build and the
# downloads of scripts/demo.sh. About a minute on 2 cores.
#
# Usage: scripts/shipped-pictures.sh
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=styles/starry_night.safetensors
OUT=out/shipped-pictures
INFER=(target/release/fauve-infer --model $MODEL --device cpu)
TRIPTYCH=target/release/examples/triptych
STYLE=data/styles/starry_night.jpg
rm -rf "$OUT"

# The README: held-out photos (mate-backgrounds, never trained on) | the painting | results.
"${INFER[@]}" data/eval/mate-LadyBird.jpg data/eval/mate-Dune.jpg --max-size 512 -o "$OUT/readme"
$TRIPTYCH docs/shipped-triptych.jpg 300 data/eval/mate-LadyBird.jpg $STYLE \
    "$OUT/readme/mate-LadyBird-starry_night.jpg" "$OUT/readme/mate-Dune-starry_night.jpg"

# docs/shipped-model.md: the same two photos stylized at 256, 512 and 1024 px (longest side),
# each picture at its own size.
PHOTOS=(data/eval/mate-FreshFlower.jpg data/photos/opencv-building.jpg)
for S in 256 512 1024; do
    "${INFER[@]}" "${PHOTOS[@]}" --max-size $S -o "$OUT/$S"
    H=$(( S * 2 / 3 ))
    $TRIPTYCH docs/shipped-$S.jpg $H "$OUT/$S/mate-FreshFlower-starry_night.jpg" \
        "$OUT/$S/opencv-building-starry_night.jpg"
done

# Colour preservation and strength (README): photo | full style | --preserve-colors | --strength 0.5
P=data/eval/mate-FreshFlower.jpg
"${INFER[@]}" $P --max-size 512 -o "$OUT/full.jpg"
"${INFER[@]}" $P --max-size 512 -o "$OUT/colors.jpg" --preserve-colors
"${INFER[@]}" $P --max-size 512 -o "$OUT/half.jpg" --strength 0.5
$TRIPTYCH docs/options.jpg 240 $P "$OUT/full.jpg" "$OUT/colors.jpg" "$OUT/half.jpg"

echo "held-out score (data/eval at 256 px):"
target/release/fauve-train eval --model $MODEL --photos data/eval --image-size 256 --device cpu | tail -1
