#!/usr/bin/env bash
# Fauve's main job on its built-in defaults, on a fresh Debian machine with Rust and Python:
# fetch real VGG weights (ImageNet VGG19, and the VGG16 that trained the shipped model), the
# photo set and Starry Night; build in release mode; stylize a few
# photos with the shipped Starry Night model (styles/starry_night.safetensors) and its slim
# twin (styles/starry_night_slim.safetensors), and one in a mix
# of the shipped multi-style model's first two styles (styles/collection.safetensors); train
# configs/demo.toml on the CPU and stylize with that too; and say where everything is. How long
# each part took on a fresh clone: docs/demo.md.
# Re-running reuses what is there (an interrupted run is resumed).
#
# --smoke runs the same steps, scripts and binaries at a tiny size (a few training steps of 32 px
# crops, into runs/demo-smoke and out/demo-smoke, started afresh each time): what CI runs, so
# that a broken main job cannot land.
#
# Usage: scripts/demo.sh [--smoke]
set -euo pipefail
cd "$(dirname "$0")/.."

SMOKE=0
case "${1:-}" in
    "") ;;
    --smoke) SMOKE=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

scripts/fetch-vgg16.sh
scripts/fetch-vgg19.sh
scripts/fetch-photos.sh
echo "demo: building (release)"
# The binaries and the library's examples in one invocation, with one feature set: the README's
# `cargo run --release --example stylize` then finds everything built.
cargo build --release --locked --workspace --bins --examples

if [ $SMOKE = 1 ]; then
    RUN=runs/demo-smoke
    OUT=out/demo-smoke
    rm -rf "$RUN" "$OUT"
    TRAIN=(--config configs/demo.toml --run-dir "$RUN"
           --steps 6 --image-size 32 --style-size 64 --checkpoint-every 3 --sample-every 3)
    MAX_SIZE=64
else
    RUN=runs/demo
    OUT=out/demo
    TRAIN=(--config configs/demo.toml)
    MAX_SIZE=320
fi
PHOTOS=(data/photos/opencv-fruits.jpg data/photos/opencv-baboon.jpg data/photos/opencv-building.jpg data/photos/opencv-messi5.jpg)
SHIPPED=styles/starry_night.safetensors
echo "demo: stylizing with the shipped model $SHIPPED"
target/release/fauve-infer --model $SHIPPED "${PHOTOS[@]}" --max-size $MAX_SIZE -o "$OUT/shipped" --device cpu
target/release/examples/triptych "$OUT/shipped/triptych.jpg" 300 data/photos/opencv-fruits.jpg \
    data/styles/starry_night.jpg "$OUT/shipped/opencv-fruits-starry_night.jpg" "$OUT/shipped/opencv-building-starry_night.jpg"

# The shipped slim model (docs/slim.md): the same photos, about 2.6x faster on the CPU.
SLIM=styles/starry_night_slim.safetensors
target/release/fauve-infer --model $SLIM "${PHOTOS[@]}" --max-size $MAX_SIZE -o "$OUT/slim" --device cpu

# The shipped multi-style model: one photo in a half-and-half mix of its first two styles.
COLLECTION=styles/collection.safetensors
read -r FIRST SECOND _ <<<"$(target/release/fauve-infer --model $COLLECTION --list-styles | cut -f2 | tr '\n' ' ')"
target/release/fauve-infer --model $COLLECTION --mix "$FIRST=0.5,$SECOND=0.5" "${PHOTOS[0]}" \
    --max-size $MAX_SIZE -o "$OUT/collection" --device cpu

MODEL=$RUN/model.safetensors
if [ -f "$MODEL" ]; then
    echo "demo: $MODEL exists; skipping training (delete $RUN to train again)"
elif [ -n "$(ls "$RUN"/checkpoints/step-*.safetensors 2>/dev/null)" ]; then
    echo "demo: resuming the interrupted demo run"
    target/release/fauve-train --resume "$RUN"
else
    target/release/fauve-train "${TRAIN[@]}"
fi

target/release/fauve-infer --model "$MODEL" "${PHOTOS[@]}" --max-size $MAX_SIZE -o "$OUT" --device cpu
target/release/examples/triptych "$OUT/triptych.jpg" 300 \
    data/photos/opencv-fruits.jpg data/styles/starry_night.jpg "$OUT/opencv-fruits-starry_night_demo.jpg" "$OUT/opencv-building-starry_night_demo.jpg"

cat <<MSG

demo: done
  shipped      $OUT/shipped/   (styles/starry_night.safetensors; content | style | result: $OUT/shipped/triptych.jpg)
  slim         $OUT/slim/   ($SLIM: the slim network, same recipe)
  collection   $OUT/collection/   ($COLLECTION: --list-styles, then --style NAME or --mix NAME=W,...)
  model        $MODEL   (use: target/release/fauve-infer --model $MODEL PHOTO...)
  stylized     $OUT/    (content | style | result: $OUT/triptych.jpg)
  samples      $RUN/samples/   (the fixed photo during training)
  TensorBoard  $RUN/tb/   (pip install tensorboard; tensorboard --logdir $RUN/tb)
MSG
