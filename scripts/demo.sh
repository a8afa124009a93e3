#!/usr/bin/env bash
# Fauve's main job on its built-in defaults, on a fresh Debian machine with Rust and Python:
# fetch real VGG16 weights, sample photos and Starry Night; build in release mode; train
# configs/demo.toml on the CPU (about 10 minutes on 2 cores); stylize a few photos; and say
# where everything is. Re-running reuses what is there (an interrupted run is resumed).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-vgg16.sh
scripts/fetch-samples.sh
echo "demo: building (release)"
cargo build --release --locked -p fauve-train -p fauve-infer -p fauve --example triptych

RUN=runs/demo
MODEL=$RUN/model.safetensors
if [ -f "$MODEL" ]; then
    echo "demo: $MODEL exists; skipping training (delete $RUN to train again)"
elif [ -n "$(ls "$RUN"/checkpoints/step-*.safetensors 2>/dev/null)" ]; then
    echo "demo: resuming the interrupted demo run"
    target/release/fauve-train --resume "$RUN"
else
    target/release/fauve-train --config configs/demo.toml
fi

OUT=out/demo
PHOTOS=(data/photos/fruits.jpg data/photos/baboon.jpg data/photos/building.jpg data/photos/messi5.jpg)
target/release/fauve-infer --model "$MODEL" "${PHOTOS[@]}" --max-size 320 -o "$OUT" --device cpu
target/release/examples/triptych "$OUT/triptych.jpg" 300 \
    data/photos/fruits.jpg data/styles/starry_night.jpg "$OUT/fruits-starry_night_demo.jpg" "$OUT/building-starry_night_demo.jpg"

cat <<MSG

demo: done
  model        $MODEL   (use: target/release/fauve-infer --model $MODEL PHOTO...)
  stylized     $OUT/    (content | style | result: $OUT/triptych.jpg)
  samples      $RUN/samples/   (the fixed photo during training)
  TensorBoard  $RUN/tb/   (pip install tensorboard; tensorboard --logdir $RUN/tb)
MSG
