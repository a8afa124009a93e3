#!/usr/bin/env bash
# Fetch 22 public-domain artworks (21 paintings by Hokusai, Hiroshige, Van Gogh, Kandinsky,
# Renoir, Cassatt, Bruegel, Dürer, Arcimboldo, ..., and a photograph of Michelangelo's Pietà)
# from the Debian package gcompris-qt-data (GCompris' painting puzzle, 44 MB) into
# data/styles/paintings/, one NAME.jpg each (300-700 px wide) and
# paintings.tsv naming artist and title. They are reassembled from the puzzle's pieces by
# scripts/paintings.py. Idempotent; the package is kept in ~/.cache/fauve/packages.
#
# Usage: scripts/fetch-paintings.sh
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=data/styles/paintings
if [ -f $OUT/paintings.tsv ]; then
    echo "fetch-paintings: $(($(wc -l <$OUT/paintings.tsv) - 1)) paintings in $OUT are present"
    exit 0
fi
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
CACHE=${FAUVE_PACKAGE_CACHE:-$HOME/.cache/fauve/packages}
mkdir -p "$CACHE"
if ! ls "$CACHE"/gcompris-qt-data_*.deb >/dev/null 2>&1; then
    echo "fetch-paintings: downloading the Debian package gcompris-qt-data (44 MB)"
    if ! (cd "$CACHE" && apt-get download gcompris-qt-data >/dev/null 2>"$CACHE/apt.log"); then
        if [ "$(id -u)" = 0 ]; then
            apt-get update -qq >/dev/null 2>>"$CACHE/apt.log" || true
        fi
        (cd "$CACHE" && apt-get download gcompris-qt-data >/dev/null 2>>"$CACHE/apt.log") || {
            cat "$CACHE/apt.log" >&2
            echo "fetch-paintings: error: apt-get download gcompris-qt-data failed" >&2
            echo "hint: run 'apt-get update' (as root) and try again" >&2
            exit 1
        }
    fi
fi
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
dpkg-deb --fsys-tarfile "$CACHE"/gcompris-qt-data_*.deb |
    tar -x -C "$WORK" ./usr/share/gcompris-qt/rcc/paintings.rcc
"$TOOLS_PY" scripts/paintings.py "$WORK/usr/share/gcompris-qt/rcc/paintings.rcc" "$OUT.partial"
rm -rf "$OUT" && mv "$OUT.partial" "$OUT"
