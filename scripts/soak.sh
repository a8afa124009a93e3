#!/usr/bin/env bash
# Memory soak (issue 24): fauve-infer over 1,000 photos of mixed sizes, its resident memory
# sampled as it goes (after the 50th image and at the 1000th: the end must be within 10%), then
# one library Stylizer shared by 4 threads for MINUTES (default 10). Exit 1 if memory grew
# more than 10% or any image failed.
#
# Usage: scripts/soak.sh [MINUTES]
set -euo pipefail
cd "$(dirname "$0")/.."
minutes=${1:-10}
model=styles/starry_night.safetensors
cargo build --release --locked --workspace --bins --examples
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
target/release/examples/soak photos "$work/photos" 1000

# fauve-infer prints one line per image on stdout: sample its VmRSS at lines 50 and 1000.
target/release/fauve-infer --device cpu --model "$model" "$work/photos" -o "$work/out" \
    > "$work/infer.out" 2> "$work/infer.err" &
pid=$!
rss_at_50="" rss_last=""
while kill -0 "$pid" 2>/dev/null; do
    lines=$(wc -l < "$work/infer.out")
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$rss" ]; then
        [ -z "$rss_at_50" ] && [ "$lines" -ge 50 ] && rss_at_50=$rss
        [ "$lines" -ge 999 ] && rss_last=$rss
    fi
    sleep 0.05
done
wait "$pid" && code=0 || code=$?
written=$(wc -l < "$work/infer.out")
echo "fauve-infer: exit $code, $written of 1000 written; RSS ${rss_at_50:-?} KiB after 50, ${rss_last:-?} KiB at the end"
tail -1 "$work/infer.err"
ok=1
if [ "$code" -ne 0 ] || [ "$written" -ne 1000 ] || [ -z "$rss_at_50" ] || [ -z "$rss_last" ]; then
    ok=0
elif [ $((rss_last * 10)) -gt $((rss_at_50 * 11)) ]; then
    echo "memory grew more than 10%"
    ok=0
fi
target/release/examples/soak threads "$model" "$minutes" || ok=0
[ "$ok" -eq 1 ] && echo "soak: memory flat, nothing failed" || { echo "soak: FAILED"; exit 1; }
