#!/usr/bin/env bash
# The content/style balance, shown: trains one model per content-weight multiplier (the style
# weight fixed at fauve-train's default for the VGG file), stylizes a few photos with each, and
# puts them side by side in one picture (rows: photos; columns: the photo, then each
# multiplier). docs/balance.md shows the result.
#
# Multipliers apply to the feature-scale base weight: 1e5 for torchvision VGG files, 1e5/60^2
# for Caffe ones. fauve-train's default for Caffe files is that base x30 (CAFFE_CONTENT_BOOST in
# train/src/config.rs, chosen by this sweep), so the x30 column is the default there.
#
# Usage: scripts/balance-sweep.sh [--bin DIR] [--device cuda|cpu] [--steps N] [--size PX]
#                                 [--multipliers 1,3,10,30] [--out DIR] [--data DIR]
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=target/release
DEVICE=cuda
STEPS=2000
SIZE=256
MULTS=1,3,10,30
OUTDIR=runs/balance
DATA=data
PHOTOS=(opencv-fruits.jpg opencv-baboon.jpg opencv-building.jpg)
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN=$2; shift 2 ;;
        --device) DEVICE=$2; shift 2 ;;
        --steps) STEPS=$2; shift 2 ;;
        --size) SIZE=$2; shift 2 ;;
        --multipliers) MULTS=$2; shift 2 ;;
        --out) OUTDIR=$2; shift 2 ;;
        --data) DATA=$2; shift 2 ;;
        -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
        *) echo "balance-sweep: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
VGG=$DATA/vgg16.safetensors
[ -f "$VGG" ] || VGG=models/vgg16.safetensors
STYLE=$DATA/starry_night.jpg
[ -f "$STYLE" ] || STYLE=$DATA/styles/starry_night.jpg
mkdir -p "$OUTDIR"

IFS=, read -ra mults <<<"$MULTS"
for m in "${mults[@]}"; do
    run="$OUTDIR/content-x$m"
    rm -rf "$run"
    cw=$(python3 -c "import sys; print(float(sys.argv[1]) * float(sys.argv[2]))" "$m" \
        "$(python3 - "$VGG" <<'PYEOF'
import json, struct, sys
with open(sys.argv[1], "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    meta = json.loads(f.read(n)).get("__metadata__", {})
# The feature-scale base (train/src/config.rs): pytorch/examples' 1e5 for torchvision
# preprocessing, divided by 60^2 for Caffe's larger features (before CAFFE_CONTENT_BOOST).
print(1e5 / 3600 if meta.get("preprocess") == "caffe_bgr" else 1e5)
PYEOF
)")
    echo "== content weight x$m ($cw): $STEPS steps at ${SIZE}px on $DEVICE"
    "$BIN/fauve-train" --config configs/starry_night.toml --data-dir "$DATA/photos" \
        --style-image "$STYLE" --vgg "$VGG" --device "$DEVICE" --image-size "$SIZE" \
        --steps "$STEPS" --content-weight "$cw" --sample-every 0 --log-every 50 \
        --checkpoint-every "$STEPS" --run-dir "$run" >"$run.log" 2>&1 || { tail -20 "$run.log"; exit 1; }
    grep -E "^step $STEPS/" "$run.log" || tail -2 "$run.log"
    for p in "${PHOTOS[@]}"; do
        "$BIN/fauve-infer" --model "$run/model.safetensors" "$DATA/photos/$p" --max-size 384 \
            --device "$DEVICE" -o "$run/${p%.*}.png" >/dev/null
    done
done

python3 - "$OUTDIR" "$DATA/photos" "$MULTS" "${PHOTOS[@]}" <<'PYEOF'
import os, sys
from PIL import Image, ImageDraw
out, photos_dir, mults, photos = sys.argv[1], sys.argv[2], sys.argv[3].split(","), sys.argv[4:]
cell = 256
cols = ["photo"] + [f"content x{m}" for m in mults]
grid = Image.new("RGB", (cell * len(cols), (cell + 0) * len(photos) + 24), "white")
draw = ImageDraw.Draw(grid)
for c, label in enumerate(cols):
    draw.text((c * cell + 6, 6), label, fill="black")
for r, p in enumerate(photos):
    stem = os.path.splitext(p)[0]
    paths = [os.path.join(photos_dir, p)] + [os.path.join(out, f"content-x{m}", f"{stem}.png") for m in mults]
    for c, path in enumerate(paths):
        im = Image.open(path).convert("RGB")
        im.thumbnail((cell, cell))
        grid.paste(im, (c * cell + (cell - im.width) // 2, 24 + r * cell + (cell - im.height) // 2))
grid.save(os.path.join(out, "balance-grid.jpg"), quality=88)
print(f"balance-sweep: {os.path.join(out, 'balance-grid.jpg')}")
PYEOF
