#!/usr/bin/env bash
# How many steps `--extend` needs to add a style to a trained model (issue 25), at demo scale
# on the CPU. For each seed: extend scripts/multistyle-compare.sh's one-style Starry Night model
# (200 steps) with Van Gogh's "Village Street in Auvers", scoring the held-out photos of
# data/eval every EVERY steps; then print the first step at which the new style's held-out
# style loss is within 10% of the same painting trained from the start (in the 4-style model,
# and alone), and the CPU seconds per step. Run scripts/multistyle-compare.sh first.
#
# Usage: scripts/extend-compare.sh [SEED...]   (default: 1 2 3 4; STEPS=300, EVERY=25,
#        BASE=one, or BASE=three for a 3-style base trained first); then, per evaluated step,
#        the ratios to the painting trained from the start (alone and in the 4-style network)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=("$@")
[ $# -eq 0 ] && SEEDS=(1 2 3 4)
STEPS=${STEPS:-300}
EVERY=${EVERY:-25}
WORK=${MULTISTYLE_DIR:-runs/multistyle-compare}
NEW=data/styles/paintings/van_gogh_auvers.jpg
RESULTS=$WORK/results.tsv
[ -f "$RESULTS" ] || { echo "extend-compare: run scripts/multistyle-compare.sh first" >&2; exit 1; }
# BASE=three extends a 3-style network instead (Starry Night, The Great Wave, Composition VIII,
# 600 steps round-robin at the seed, trained here first).
BASE=${BASE:-one}
P=data/styles/paintings
THREE="[\"data/styles/starry_night.jpg\",\"$P/great_wave.jpg\",\"$P/kandinsky_composition_viii.jpg\"]"
# The extension run of seed $1.
run_of() { if [ "$BASE" = three ]; then echo "$WORK/extend-three-$1-s$STEPS"; else echo "$WORK/extend-$1-s$STEPS"; fi; }
# The painting trained from the start at seed $1: its held-out style loss in kind $2 (multi: the
# 4-style model, one: alone).
from_start() {
    awk -F'\t' -v s="$1" -v k="$2" '$1 == s && $2 == "van_gogh_auvers" && $3 == k {print $5}' "$RESULTS"
}
for S in "${SEEDS[@]}"; do
    base=$WORK/one-starry_night-$S/model.safetensors
    run=$(run_of "$S")
    if [ "$BASE" = three ]; then
        base=$WORK/three-$S/model.safetensors
        [ -f "$base" ] || target/release/fauve-train --config configs/demo.toml --sample-every 0 \
            --checkpoint-every 100000 --log-every 100 --style-images "$THREE" --steps 600 \
            --seed "$S" --run-dir "$WORK/three-$S" 2>&1 | grep -E '^done'
    fi
    if [ ! -f $run/model.safetensors ]; then
        rm -rf "$run"
        target/release/fauve-train --extend "$base" --style-image $NEW --steps "$STEPS" \
            --run-dir "$run" --eval-dir data/eval --eval-every "$EVERY" --log-every 50 \
            --sample-every 0 --checkpoint-every 100000 2>&1 | tee "$run.log" | grep -E '^(eval|done)'
    fi
    multi=$(from_start "$S" multi)
    alone=$(from_start "$S" one)
    awk -v s="$S" -v multi="$multi" -v alone="$alone" '
        /^eval at step/ { step = $4; for (i = 1; i <= NF; i++) if ($i == "style") { v = $(i + 1); gsub(/[(),]/, "", v); v += 0 }
                          if (!m && v <= 1.1 * multi) m = step; if (!a && v <= 1.1 * alone) a = step; last = v }
        /^done:/ { secs = $5 / $2 }
        END { printf "seed %s: held-out style loss from the start %s (4-style), %s (alone); extension reaches 110%% of them at step %s and %s; final %s; %.2f s/step\n",
                     s, multi, alone, m ? m : "never", a ? a : "never", last, secs }' "$run.log"
done

# Per evaluated step: the new style's held-out style loss over the painting's trained from the
# start (alone, then in the 4-style network), each seed's ratio and their mean.
for S in "${SEEDS[@]}"; do
    awk -v s="$S" -v multi="$(from_start "$S" multi)" -v alone="$(from_start "$S" one)" '/^eval at step/ {
            for (i = 1; i <= NF; i++) if ($i == "style") { v = $(i + 1); gsub(/[(),]/, "", v) }
            print $4 + 0, s, v / alone, v / multi }' "$(run_of "$S").log"
done | sort -n -k1,1 -k2,2 | awk '
    { if ($1 != step && n) flush(); step = $1; a = a sprintf(" %.2f", $3); m = m sprintf(" %.2f", $4)
      sa += $3; sm += $4; n++ }
    function flush() { printf "step %s: / alone%s (mean %.2f); / 4-style%s (mean %.2f)\n", step, a, sa / n, m, sm / n
                       a = m = ""; sa = sm = n = 0 }
    END { if (n) flush() }'
