#!/usr/bin/env bash
# Export the shipped model with fauve-export and check the ONNX file in onnxruntime (Python,
# installed into the tools venv on first use) against Fauve's own forward pass on the same
# inputs: a batch of two photo crops at an odd size (dynamic batch, height and width). Fails
# above 1e-4 relative L2. CI runs this.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# The same build command as scripts/demo.sh (which CI runs first), so nothing is rebuilt.
cargo build --quiet --release --locked --workspace --bins --examples
MODEL=styles/starry_night.safetensors
target/release/fauve-export "$MODEL" -o "$WORK/model.onnx"
# A photo that is in the repository: the first panel of docs/options.jpg.
"$TOOLS_PY" scripts/check_onnx.py inputs "$WORK/input.safetensors" docs/options.jpg
target/release/fauve-bench infer --weights "$MODEL" --input "$WORK/input.safetensors" \
    --output "$WORK/fauve.safetensors" --device cpu --warmup 0 --runs 1 >/dev/null
"$TOOLS_PY" scripts/check_onnx.py compare "$WORK/model.onnx" "$WORK/input.safetensors" \
    "$WORK/fauve.safetensors"
