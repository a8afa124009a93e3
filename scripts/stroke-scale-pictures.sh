#!/usr/bin/env bash
# docs/stroke-scale.jpg: what `fauve-infer --stroke-scale` does on a large photo. A validation
# photo (scripts/validation-split.sh) enlarged to 2048 px, stylized with MODEL at stroke scales
# 1, 2 and 4; the picture shows the photo (whole, small) and the same 512 px square of each
# result at full resolution, so that stroke sizes compare as a viewer of the 2048 px image
# sees them.
# Needs scripts/demo.sh's build and downloads. About a minute on 2 cores.
#
# Usage: scripts/stroke-scale-pictures.sh [MODEL] (default: styles/starry_night.safetensors)
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-styles/starry_night.safetensors}
PHOTO=data/split/val/lomiri-Infinite-Sea_by_Aury88.jpg
OUT=out/stroke-scale
[ -d data/split/val ] || scripts/validation-split.sh
for f in target/release/fauve-infer "$MODEL" "$PHOTO"; do
    [ -e "$f" ] || { echo "stroke-scale-pictures: $f is missing (scripts/demo.sh builds and fetches)" >&2; exit 1; }
done
rm -rf "$OUT"
mkdir -p "$OUT"
cells=()
for s in 1 2 4; do
    target/release/fauve-infer --device cpu --model "$MODEL" --scale 2 --stroke-scale $s \
        "$PHOTO" -o "$OUT/s$s.png" >"$OUT/s$s.log" 2>&1 || { cat "$OUT/s$s.log" >&2; exit 1; }
    cells+=("$OUT/s$s.png")
done
# shellcheck source=scripts/tools-venv.sh
source scripts/tools-venv.sh
"$TOOLS_PY" - "$PHOTO" "${cells[@]}" <<'PY'
import sys
from PIL import Image
photo, cells = sys.argv[1], sys.argv[2:]
crops = [Image.open(c).convert("RGB").crop((1024, 768, 1536, 1280)) for c in cells]
thumb = Image.open(photo).convert("RGB").resize((512, 512), Image.LANCZOS)
sheet = Image.new("RGB", (512 * 4 + 12, 512), "white")
for i, im in enumerate([thumb] + crops):
    sheet.paste(im, (i * 516, 0))
sheet.save("docs/stroke-scale.jpg", quality=88)
print("wrote docs/stroke-scale.jpg: the photo, then a 512 px square at 1:1 of the 2048 px result at stroke scale 1, 2, 4")
PY
