#!/usr/bin/env bash
# The `fauve` library and `fauve-infer` are what other programs link and ship: they must not
# pull in the trainer's dataset stack (parquet, arrow, the Hub's HTTP client).
set -euo pipefail
cd "$(dirname "$0")/.."
heavy='^(parquet|arrow-[a-z]+|hf-hub|reqwest|tokio|candle-datasets) '
status=0
for pkg in fauve fauve-infer; do
    found=$(cargo tree --locked -p "$pkg" -e normal,build --prefix none | grep -E "$heavy" | sort -u || true)
    if [ -n "$found" ]; then
        echo "error: $pkg depends on the dataset stack:" >&2
        echo "$found" >&2
        status=1
    else
        echo "$pkg: no parquet, arrow or HTTP client in its dependencies"
    fi
done
exit $status
