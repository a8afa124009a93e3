#!/usr/bin/env bash
# The slim transform network against the full one (issue 26) at equal steps, at demo scale on
# the CPU (configs/demo.toml: 96 px crops, batch 2, VGG19): for each seed, train Starry Night
# with `architecture = johnson` and `slim` for STEPS steps, score both with `fauve-train eval`
# on the 12 held-out photos of data/eval, and print the held-out losses, their slim/full ratios
# per seed and the means. Writes $WORK/results.tsv (seed, architecture, content, style, total,
# seconds); then docs/slim.jpg, two held-out photos by the full and the slim network of seed 1.
# Needs scripts/demo.sh's build and downloads. About 4 minutes per seed on 2 cores.
#
# Usage: scripts/slim-compare.sh [SEED...]   (default: 1 2 3 4; STEPS=200)
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=("$@")
[ $# -eq 0 ] && SEEDS=(1 2 3 4)
STEPS=${STEPS:-200}
WORK=${SLIM_DIR:-runs/slim-compare}
[ -x target/release/fauve-train ] || { echo "slim-compare: run scripts/demo.sh first" >&2; exit 1; }
mkdir -p "$WORK"
RESULTS=$WORK/results.tsv
[ -f "$RESULTS" ] || printf 'seed\tarchitecture\tcontent\tstyle\ttotal\tseconds\n' >"$RESULTS"

for S in "${SEEDS[@]}"; do
    for A in johnson slim; do
        run=$WORK/$A-$S
        [ -f "$run/model.safetensors" ] && continue
        rm -rf "$run"
        target/release/fauve-train --config configs/demo.toml --architecture "$A" --steps "$STEPS" \
            --seed "$S" --run-dir "$run" --sample-every 0 --checkpoint-every 100000 \
            --log-every 50 --eval-every 100000 2>&1 | tee "$run.log" | grep -E '^done'
        secs=$(sed -nE 's/^done: [0-9]+ steps in ([0-9.]+) s.*/\1/p' "$run.log")
        target/release/fauve-train eval --model "$run/model.safetensors" --photos data/eval \
            2>/dev/null | grep 'mean over' | awk -v s="$S" -v a="$A" -v t="$secs" '{
                gsub(/[(),]/, " "); n = split($0, f, " ");
                for (i = 1; i <= n; i++) {
                    if (f[i] == "content") c = f[i + 1]; if (f[i] == "style") st = f[i + 1];
                    if (f[i] == "loss") l = f[i + 1] }
                printf "%s\t%s\t%s\t%s\t%s\t%s\n", s, a, c, st, l, t }' >>"$RESULTS"
    done
done

# Per seed: slim / full ratios of each held-out loss; then their means.
awk -F'\t' 'NR > 1 { v[$1, $2, "c"] = $3; v[$1, $2, "s"] = $4; v[$1, $2, "t"] = $5; seeds[$1] = 1 }
    END {
        printf "seed\tcontent slim/full\tstyle slim/full\ttotal slim/full\n"
        for (s in seeds) if ((s, "slim", "c") in v && (s, "johnson", "c") in v) {
            rc = v[s, "slim", "c"] / v[s, "johnson", "c"]; rs = v[s, "slim", "s"] / v[s, "johnson", "s"]
            rt = v[s, "slim", "t"] / v[s, "johnson", "t"]
            printf "%s\t%.3f\t%.3f\t%.3f\n", s, rc, rs, rt; n++; sc += rc; ss += rs; st += rt }
        if (n) printf "mean\t%.3f\t%.3f\t%.3f\n", sc / n, ss / n, st / n }' "$RESULTS"

# The pictures: two held-out photos, each beside the full and the slim network of seed 1.
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
OUT=out/slim-pictures
rows=()
for photo in data/eval/mate-Garden.jpg data/eval/mate-Storm.jpg; do
    stem=$(basename "$photo" .jpg)
    row=("$photo")
    for A in johnson slim; do
        target/release/fauve-infer --device cpu --max-size 320 --model "$WORK/$A-1/model.safetensors" \
            "$photo" -o "$OUT/$stem-$A.png" >/dev/null 2>&1
        row+=("$OUT/$stem-$A.png")
    done
    rows+=("$(IFS=,; echo "${row[*]}")")
done
"$TOOLS_PY" scripts/picture_grid.py docs/slim.jpg 200 "${rows[@]}"
