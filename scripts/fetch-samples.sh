#!/usr/bin/env bash
# Fetch real photographs and a real painting for demos and quality checks, from Debian's
# opencv-doc package (no internet needed beyond the Debian mirror): photos go to data/photos/,
# Van Gogh's Starry Night to data/styles/starry_night.jpg. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PHOTOS=(aero1 aero3 apple baboon board building butterfly fruits home HappyFish leuvenA
        leuvenB messi5 orange squirrel_cls stuff ela_original licenseplate_motion aloeL)
PNG_PHOTOS=(basketball1 rubberwhale1 graf1 smarties)

if [ -f data/styles/starry_night.jpg ] && [ "$(ls data/photos 2>/dev/null | wc -l)" -ge 20 ]; then
    echo "fetch-samples: data/photos and data/styles are present"
    exit 0
fi

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "fetch-samples: downloading Debian package opencv-doc (96 MB)"
download() { (cd "$WORK" && apt-get download opencv-doc >/dev/null 2>"$WORK/apt.log"); }
if ! download; then
    # A fresh machine has no package lists yet; as root, fetch them once and try again.
    if [ "$(id -u)" = 0 ]; then
        echo "fetch-samples: updating the package lists (apt-get update)"
        apt-get update -qq >/dev/null 2>>"$WORK/apt.log" || true
    fi
    if ! download; then
        cat "$WORK/apt.log" >&2
        echo "fetch-samples: error: apt-get download opencv-doc failed" >&2
        echo "hint: run 'apt-get update' (as root) and try again" >&2
        exit 1
    fi
fi
dpkg -x "$WORK"/opencv-doc_*.deb "$WORK/x"
SRC="$WORK/x/usr/share/doc/opencv-doc/examples/data"
mkdir -p data/photos data/styles
for p in "${PHOTOS[@]}"; do cp "$SRC/$p.jpg" data/photos/; done
for p in "${PNG_PHOTOS[@]}"; do cp "$SRC/$p.png" data/photos/; done
cp "$SRC/starry_night.jpg" data/styles/starry_night.jpg
echo "fetch-samples: $(ls data/photos | wc -l) photos in data/photos, painting in data/styles/starry_night.jpg"
