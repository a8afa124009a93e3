#!/usr/bin/env bash
# Fauve against PyTorch eager and ONNX Runtime on this CPU, in one run, on the same randomly
# initialised TransformerNet weights and inputs: inference at 256, 512 and 1024 px, and one
# training step (transform, VGG16 to relu4_3 on output and input, content + style loss,
# backward, Adam) at batch 4 and 128 and 256 px, all with the same thread count; medians,
# ratios, relative errors between the implementations and peak memory of each process.
# Prints the table and writes it into docs/benchmarks.md (between the BENCH markers).
#
# PyTorch and ONNX Runtime go into .venv-bench/ on first use (about 1 GB from PyPI).
# On a GPU machine, scripts/gpu-check.sh measures the same on CUDA.
#
# Usage: scripts/bench.sh [--smoke] [--runs N] [--no-docs]
#   --smoke   tiny sizes (64 px inference, batch 2 at 32 px), 2 runs: checks the harness
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=256,512,1024
TRAIN=4x128,4x256
RUNS=5
DOCS=1
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) SIZES=64; TRAIN=2x32; RUNS=2; DOCS=0; shift ;;
        --runs) RUNS=$2; shift 2 ;;
        --no-docs) DOCS=0; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "bench: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done

VENV=.venv-bench
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import torch, onnxruntime, onnx' 2>/dev/null; then
    echo "bench: installing PyTorch and ONNX Runtime into $VENV (first use)"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/bench-requirements.txt
fi
[ -f models/vgg16.safetensors ] || scripts/fetch-vgg16.sh
scripts/fetch-photos.sh
cargo build --release --locked --bins

OUTDIR=runs/bench
rm -rf "$OUTDIR"
mkdir -p "$(dirname "$OUTDIR")"
FAUVE_BENCH_SIZES=$SIZES FAUVE_BENCH_TRAIN=$TRAIN FAUVE_BENCH_RUNS=$RUNS PYTHON=$VENV/bin/python \
    scripts/gpu-check.sh --device cpu --only timings --out "$OUTDIR" >"$OUTDIR.log" 2>&1 \
    || { tail -30 "$OUTDIR.log"; exit 1; }
TABLE=$(sed -n '/^| measurement/,$p' "$OUTDIR/table.md")
MACHINE="$(lscpu | sed -n 's/^Model name: *//p' | head -1), $(nproc) threads used; $(date -u +%Y-%m-%d)"
echo "$MACHINE"
echo "$TABLE"
grep -q '"rc": [1-9]' "$OUTDIR/results.jsonl" && { echo "bench: a measurement failed; logs in $OUTDIR/" >&2; exit 1; }

if [ "$DOCS" = 1 ]; then
    python3 - docs/benchmarks.md "$MACHINE" "$TABLE" <<'PYEOF'
import sys
path, machine, table = sys.argv[1:]
doc = open(path).read()
start, end = "<!-- BENCH:START -->", "<!-- BENCH:END -->"
block = f"{start}\n{machine} (`scripts/bench.sh`):\n\n{table}\n{end}"
if start in doc:
    doc = doc[:doc.index(start)] + block + doc[doc.index(end) + len(end):]
else:
    doc = doc.rstrip() + "\n\n### Latest `scripts/bench.sh` run\n\n" + block + "\n"
open(path, "w").write(doc)
print(f"bench: table written to {path}")
PYEOF
fi
