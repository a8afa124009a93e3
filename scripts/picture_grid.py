"""Put pictures side by side in rows, each scaled to one height, for docs/ (a row per photo, a
column per setting).

Usage: .venv-tools/bin/python scripts/picture_grid.py OUT HEIGHT ROW [ROW...]
  ROW  comma-separated image paths, left to right
"""

import sys

from PIL import Image

GAP = 4


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    out, height, rows = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    scaled = []
    for row in rows:
        ims = [Image.open(p).convert("RGB") for p in row.split(",")]
        scaled.append([im.resize((round(im.width * height / im.height), height), Image.LANCZOS) for im in ims])
    width = max(sum(im.width for im in r) + GAP * (len(r) - 1) for r in scaled)
    sheet = Image.new("RGB", (width, len(scaled) * height + GAP * (len(scaled) - 1)), "white")
    for i, r in enumerate(scaled):
        x = 0
        for im in r:
            sheet.paste(im, (x, i * (height + GAP)))
            x += im.width + GAP
    sheet.save(out, quality=88)
    print(f"wrote {out} ({sheet.width}x{sheet.height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
