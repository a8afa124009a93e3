#!/usr/bin/env bash
# One 4-style network against four 1-style networks at the same steps per style (issue 25), at
# demo scale on the CPU (configs/demo.toml: 96 px crops, batch 2, VGG19): for each seed, train
# the 4-style model for 4 x STEPS steps (round-robin: STEPS per style) and each painting alone
# for STEPS steps, then score every style with `fauve-train eval` on the 12 held-out photos of
# data/eval. Writes $WORK/results.tsv (seed, style, kind, content, style, total) and prints the
# per-style means over the seeds. Needs scripts/demo.sh's build and downloads and
# scripts/fetch-paintings.sh. About 12 minutes per seed at STEPS=200 on 2 cores.
#
# Usage: scripts/multistyle-compare.sh [SEED...]   (default: 1 2 3 4; STEPS=200 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=("$@")
[ $# -eq 0 ] && SEEDS=(1 2 3 4)
STEPS=${STEPS:-200}
WORK=${MULTISTYLE_DIR:-runs/multistyle-compare}
P=data/styles/paintings
PAINTINGS=(data/styles/starry_night.jpg $P/great_wave.jpg $P/kandinsky_composition_viii.jpg
           $P/van_gogh_auvers.jpg)
[ -x target/release/fauve-train ] || { echo "multistyle-compare: run scripts/demo.sh first" >&2; exit 1; }
[ -f $P/paintings.tsv ] || scripts/fetch-paintings.sh
list=$(printf '"%s",' "${PAINTINGS[@]}")
COMMON=(--config configs/demo.toml --sample-every 0 --checkpoint-every 100000 --log-every 50
        --eval-every 100000)
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
[ -f "$RESULTS" ] || printf 'seed\tstyle\tkind\tcontent\tstyle_loss\ttotal\n' >"$RESULTS"

# Appends `fauve-train eval`'s per-style means of MODEL to the results as KIND.
score() {
    local seed=$1 kind=$2 model=$3 name=$4
    target/release/fauve-train eval --model "$model" --photos data/eval 2>/dev/null |
        grep 'mean over' | sed -E 's/^([^:]*): mean/\1 mean/' |
        awk -v s="$seed" -v k="$kind" -v n="$name" '{
            style = ($1 == "mean") ? n : $1;
            gsub(/[(),]/, " "); split($0, f, " ");
            for (i = 1; i <= length(f); i++) {
                if (f[i] == "content") c = f[i + 1];
                if (f[i] == "style") st = f[i + 1];
                if (f[i] == "loss") t = f[i + 1];
            }
            printf "%s\t%s\t%s\t%s\t%s\t%s\n", s, style, k, c, st, t }' >>"$RESULTS"
}

for S in "${SEEDS[@]}"; do
    run=$WORK/multi-$S
    if [ ! -f $run/model.safetensors ]; then
        rm -rf "$run"
        target/release/fauve-train "${COMMON[@]}" --style-images "[${list%,}]" \
            --steps $((4 * STEPS)) --seed "$S" --run-dir "$run"
        score "$S" multi $run/model.safetensors multi
    fi
    for p in "${PAINTINGS[@]}"; do
        name=$(basename "$p" .jpg)
        run=$WORK/one-$name-$S
        [ -f $run/model.safetensors ] && continue
        rm -rf "$run"
        target/release/fauve-train "${COMMON[@]}" --style-image "$p" --style-name "$name" \
            --steps "$STEPS" --seed "$S" --run-dir "$run"
        score "$S" one $run/model.safetensors "$name"
    done
done
# Per style: the mean over seeds of each kind, and multi / one.
awk -F'\t' 'NR > 1 {
        k = $2 FS $3; c[k] += $4; s[k] += $5; n[k]++; styles[$2] = 1 }
    END {
        printf "%-28s %12s %12s %8s %12s %12s %8s\n", "style", "content 1", "content 4", "ratio",
            "style 1", "style 4", "ratio";
        for (st in styles) {
            o = st FS "one"; m = st FS "multi";
            if (!n[o] || !n[m]) continue;
            co = c[o] / n[o]; cm = c[m] / n[m]; so = s[o] / n[o]; sm = s[m] / n[m];
            printf "%-28s %12.4e %12.4e %8.3f %12.4e %12.4e %8.3f\n", st, co, cm, cm / co, so, sm, sm / so
        }
    }' "$RESULTS"
