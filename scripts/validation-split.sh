#!/usr/bin/env bash
# Split data/photos (scripts/fetch-photos.sh) into data/split/train and data/split/val by name:
# every 8th photo in sorted order is held out for validation (10 of 82), the rest train. Both
# folders hold symbolic links, so nothing is copied. Choosing settings (layers, weights) is
# judged on data/split/val; data/eval (mate-backgrounds) stays untouched for the final scores.
# Idempotent: rebuilds both folders each time.
#
# Usage: scripts/validation-split.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ -d data/photos ] || { echo "validation-split: no data/photos; run scripts/fetch-photos.sh" >&2; exit 1; }
rm -rf data/split
mkdir -p data/split/train data/split/val
i=0
while IFS= read -r name; do
    if [ $((i % 8)) = 7 ]; then dest=val; else dest=train; fi
    ln -s "../../photos/$name" "data/split/$dest/$name"
    i=$((i + 1))
done < <(cd data/photos && find . -maxdepth 1 -type f -printf '%P\n' | LC_ALL=C sort)
echo "validation-split: $(ls data/split/train | wc -l) training and $(ls data/split/val | wc -l) validation photos in data/split/"
