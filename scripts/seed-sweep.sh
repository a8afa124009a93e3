#!/usr/bin/env bash
# Trains one setting over several seeds and scores every model on a folder of photos under one
# fixed objective, so that settings are compared by their spread over seeds, not by one run
# (at a few hundred steps two seeds of the same setting differ by up to 30%). Also stylizes two
# photos of that folder with each seed's model for looking.
#
# Usage: scripts/seed-sweep.sh NAME SCORE_CONFIG [--seeds 42,43,44,45] [--photos DIR] -- FLAGS...
#   NAME          the setting's name: runs go to runs/sweep/NAME-sSEED, pictures to
#                 out/sweep/NAME-sSEED/
#   SCORE_CONFIG  the objective every model is scored with (fauve-train eval --config)
#   FLAGS         fauve-train's settings for the runs (e.g. --config configs/demo.toml ...)
# Prints one line per seed and the mean and standard deviation of the content and style terms;
# the lines are also appended to runs/sweep/scores.tsv.
set -euo pipefail
cd "$(dirname "$0")/.."

[ $# -ge 2 ] || { sed -n '2,14p' "$0"; exit 2; }
NAME=$1 SCORE=$2
shift 2
SEEDS=42,43,44,45
PHOTOS=data/split/val
while [ $# -gt 0 ]; do
    case "$1" in
        --seeds) SEEDS=$2; shift 2 ;;
        --photos) PHOTOS=$2; shift 2 ;;
        --) shift; break ;;
        *) echo "seed-sweep: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
BIN=target/release
mkdir -p runs/sweep
LOOK=$(find "$PHOTOS" -maxdepth 1 \( -type f -o -type l \) | LC_ALL=C sort | head -2)
for SEED in ${SEEDS//,/ }; do
    RUN=runs/sweep/$NAME-s$SEED
    if [ ! -f "$RUN/model.safetensors" ]; then
        rm -rf "$RUN"
        $BIN/fauve-train "$@" --seed "$SEED" --run-dir "$RUN" --sample-every 0 > "$RUN.log" 2>&1 \
            || { echo "seed-sweep: training $RUN failed; see $RUN.log" >&2; exit 1; }
    fi
    # shellcheck disable=SC2086
    $BIN/fauve-infer --model "$RUN/model.safetensors" $LOOK --max-size 320 -o "out/sweep/$NAME-s$SEED" \
        --device cpu > /dev/null
    LINE=$($BIN/fauve-train eval --model "$RUN/model.safetensors" --photos "$PHOTOS" --config "$SCORE" | tail -1)
    echo "$NAME seed $SEED: $LINE"
    printf '%s\t%s\t%s\n' "$NAME" "$SEED" "$LINE" >> runs/sweep/scores.tsv
done | tee "runs/sweep/$NAME.txt"
python3 - "runs/sweep/$NAME.txt" <<'PY'
import re, statistics, sys
rows = [re.search(r"content ([0-9.e+-]+), style ([0-9.e+-]+)", l) for l in open(sys.argv[1])]
c = [float(m.group(1)) for m in rows if m]
s = [float(m.group(2)) for m in rows if m]
sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
print(f"mean over {len(c)} seeds: content {statistics.mean(c):.3e} ± {sd(c):.2e}, "
      f"style {statistics.mean(s):.3e} ± {sd(s):.2e}")
PY
