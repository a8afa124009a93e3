#!/usr/bin/env bash
# How Fauve's models look beside Magenta's arbitrary stylization network given the same painting
# (issue 34): one picture per painting, a row per photo: the photo | Magenta's network (384 px,
# its fixed size) | each MODEL (fauve-infer at --size, default 512 px). The first row is the
# painting. Photos are the validation split (scripts/validation-split.sh); --eval takes the
# held-out data/eval instead, which is only for final comparisons, never for choosing settings.
# A multi-style MODEL takes its style as MODEL:STYLE.
#
# Needs scripts/demo.sh's build and downloads. Writes out/look/<painting>.jpg (or --out FILE).
#
# Usage: scripts/look-compare.sh [--eval] [--size N] [--out FILE] PAINTING MODEL[:STYLE]...
set -euo pipefail
cd "$(dirname "$0")/.."

SET=val
SIZE=512
OUT=
while [ $# -gt 0 ]; do
    case "$1" in
        --eval) SET=eval; shift ;;
        --size) SIZE=$2; shift 2 ;;
        --out) OUT=$2; shift 2 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        -*) echo "look-compare: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) break ;;
    esac
done
[ $# -ge 2 ] || { echo "look-compare: give a painting and at least one model (see --help)" >&2; exit 2; }
PAINTING=$1
shift
if [ $SET = val ]; then
    [ -d data/split/val ] || scripts/validation-split.sh
    PHOTOS=(data/split/val/opencv-building.jpg data/split/val/skimage-chelsea.jpg
            data/split/val/palapeli-panther-chameleon-female.jpg data/split/val/lomiri-greentock_by_Peter_Nerlich.jpg)
else
    PHOTOS=(data/eval/mate-Garden.jpg data/eval/mate-LadyBird.jpg data/eval/mate-FreshFlower.jpg
            data/eval/mate-Storm.jpg)
fi
for f in target/release/fauve-infer "$PAINTING" "${PHOTOS[@]}"; do
    [ -e "$f" ] || { echo "look-compare: $f is missing (scripts/demo.sh builds and fetches)" >&2; exit 1; }
done
NAME=$(basename "${PAINTING%.*}")
WORK=out/look/$NAME-$SET
OUT=${OUT:-out/look/$NAME-$SET.jpg}
rm -rf "$WORK"
mkdir -p "$WORK"

# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
"$TOOLS_PY" scripts/magenta_arbitrary.py "$PAINTING" "$WORK" "${PHOTOS[@]}" >/dev/null

rows=("$PAINTING")
for photo in "${PHOTOS[@]}"; do
    stem=$(basename "${photo%.*}")
    row=("$photo" "$WORK/$stem-magenta.png")
    i=0
    for spec in "$@"; do
        model=${spec%%:*}
        style=()
        [ "$model" != "$spec" ] && style=(--style "${spec#*:}")
        dest="$WORK/$stem-model$i.png"
        target/release/fauve-infer --device cpu --max-size "$SIZE" --model "$model" "${style[@]}" \
            "$photo" -o "$dest" >"$dest.log" 2>&1 || { cat "$dest.log" >&2; exit 1; }
        row+=("$dest")
        i=$((i + 1))
    done
    rows+=("$(IFS=,; echo "${row[*]}")")
done
echo "look-compare: columns: photo | Magenta's arbitrary network | $*"
"$TOOLS_PY" scripts/picture_grid.py "$OUT" 300 "${rows[@]}"
