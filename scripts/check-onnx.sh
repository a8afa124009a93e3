#!/usr/bin/env bash
# Export the shipped model with fauve-export and check the ONNX file in onnxruntime (Python,
# installed into the tools venv on first use) against Fauve's own forward pass on the same
# inputs: a batch of two photo crops at an odd size (dynamic batch, height and width). Then the
# same for the shipped multi-style model, with its second input (style weights) for one style and
# for a mix, and for the shipped slim model (styles/starry_night_slim.safetensors). Fails
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

# The multi-style model: one .onnx for every style and mix.
MULTI=styles/collection.safetensors
target/release/fauve-export "$MULTI" -o "$WORK/multi.onnx"
STYLES=$(target/release/fauve-infer --model "$MULTI" --list-styles | cut -f2)
read -r FIRST SECOND _ <<<"$(echo $STYLES)"
N=$(echo "$STYLES" | wc -l)
# One-hot on the second style, then 0.3 of the first and 0.7 of the second.
onehot=$(for i in $(seq 1 "$N"); do [ "$i" = 2 ] && printf '1,' || printf '0,'; done)
mix=$(for i in $(seq 1 "$N"); do case $i in 1) printf '0.3,' ;; 2) printf '0.7,' ;; *) printf '0,' ;; esac; done)
for case in "--style $SECOND|${onehot%,}" "--mix $FIRST=0.3,$SECOND=0.7|${mix%,}"; do
    # shellcheck disable=SC2086 # the flag and its value are two words
    target/release/fauve-bench infer --weights "$MULTI" --input "$WORK/input.safetensors" \
        --output "$WORK/fauve.safetensors" --device cpu --warmup 0 --runs 1 ${case%|*} >/dev/null
    "$TOOLS_PY" scripts/check_onnx.py compare "$WORK/multi.onnx" "$WORK/input.safetensors" \
        "$WORK/fauve.safetensors" "${case#*|}"
done

# The shipped slim model (architecture = "slim").
SLIM=styles/starry_night_slim.safetensors
target/release/fauve-export "$SLIM" -o "$WORK/slim.onnx"
target/release/fauve-bench infer --weights "$SLIM" --input "$WORK/input.safetensors" \
    --output "$WORK/fauve.safetensors" --device cpu --warmup 0 --runs 1 >/dev/null
"$TOOLS_PY" scripts/check_onnx.py compare "$WORK/slim.onnx" "$WORK/input.safetensors" \
    "$WORK/fauve.safetensors"
