#!/usr/bin/env bash
# Train a tiny run (fixture VGG16, a few generated photos) and check that its TensorBoard events
# open in the real `tensorboard` Python package. CI runs this; it installs tensorboard into the
# tools venv on first use.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/photos"
# The same build command as scripts/demo.sh (which CI runs first), so nothing is rebuilt.
cargo build --quiet --release --locked --workspace --bins --examples
# Photos: the committed fixture images of the tests, re-encoded by the triptych example.
for i in 1 2 3; do
    target/release/examples/triptych "$WORK/photos/p$i.png" $((30 + 4 * i)) docs/demo-triptych.jpg >/dev/null
done
target/release/fauve-train --data-dir "$WORK/photos" --style-image "$WORK/photos/p1.png" \
    --vgg tests/fixtures/vgg16_tiny.safetensors --run-dir "$WORK/run" --image-size 32 \
    --batch-size 2 --steps 4 --log-every 1 --sample-every 2 --device cpu 2>"$WORK/train.log" \
    || { cat "$WORK/train.log" >&2; exit 1; }
"$TOOLS_PY" scripts/check-tensorboard.py "$WORK/run/tb" 4
