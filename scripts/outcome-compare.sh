#!/usr/bin/env bash
# Fauve against PyTorch on held-out photos (docs/training-outcome.md): for each seed, train the
# same short run with fauve-train and with scripts/train_reference.py, then score both models
# with `fauve-train eval` on 4 photos neither saw. About 20 minutes per seed on 2 cores.
# Needs scripts/demo.sh's build and downloads, and .venv-bench (scripts/bench.sh makes it).
#
# Usage: scripts/outcome-compare.sh [SEED...]   (default: 1 2 3)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=("$@")
[ $# -eq 0 ] && SEEDS=(1 2 3)
WORK=${OUTCOME_DIR:-out/outcome}
TRAIN=(opencv-fruits opencv-baboon opencv-building opencv-home lomiri-aitzgorri_by_Aitzol_Berasategi
       palapeli-castle-maintenon skimage-chelsea plasma-Path)
TEST=(opencv-messi5 skimage-astronaut palapeli-citrus-fruits lomiri-Bridge_by_Sander_Klootwijk)
mkdir -p "$WORK/train" "$WORK/test"
for f in "${TRAIN[@]}"; do cp data/photos/$f.jpg "$WORK/train/"; done
for f in "${TEST[@]}"; do cp data/photos/$f.jpg "$WORK/test/"; done
.venv-bench/bin/python -c "
from PIL import Image
Image.open('data/styles/starry_night.jpg').convert('RGB').resize((256, 256), Image.LANCZOS).save('$WORK/style.png')"
[ -x target/release/fauve-train ] || { echo "outcome-compare: run scripts/demo.sh first" >&2; exit 1; }
CW=833.3333333333334
SW=771.604938271605
# train_reference.py's objective (pytorch/examples'): VGG16, content relu2_2, the four style
# layers' raw Gram terms. Fauve trains and both models are scored under exactly this one.
VGG=models/vgg16.safetensors
OBJECTIVE=(--vgg $VGG --content-layer relu2_2
           --style-layers '["relu1_2", "relu2_2", "relu3_3", "relu4_3"]' --style-balance none
           --content-weight $CW --style-weight $SW)
for S in "${SEEDS[@]}"; do
    rm -rf "$WORK/fauve-$S"
    target/release/fauve-train --data-dir "$WORK/train" --style-image "$WORK/style.png" \
        --image-size 128 --batch-size 4 --steps 150 --lr 1e-3 --seed "$S" --run-dir "$WORK/fauve-$S" \
        --device cpu --sample-every 0 --checkpoint-every 1000 --log-every 50 "${OBJECTIVE[@]}"
    .venv-bench/bin/python scripts/train_reference.py --photos "$WORK/train" --style "$WORK/style.png" \
        --vgg $VGG --image-size 128 --batch 4 --steps 150 --lr 1e-3 --seed "$S" \
        --content-weight $CW --style-weight $SW --out "$WORK/torch-$S.safetensors"
    for m in "$WORK/fauve-$S/model.safetensors" "$WORK/torch-$S.safetensors"; do
        echo "seed $S $m: $(target/release/fauve-train eval --model "$m" --photos "$WORK/test" \
            --style-image "$WORK/style.png" --image-size 256 --device cpu "${OBJECTIVE[@]}" 2>/dev/null \
            | tail -1)"
    done
done
