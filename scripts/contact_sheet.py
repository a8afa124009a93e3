"""Write one labelled contact sheet of every image in the given folders (for docs/).

Usage: .venv-tools/bin/python scripts/contact_sheet.py OUT.jpg DIR [DIR...]
"""

import sys
from pathlib import Path

from PIL import Image, ImageDraw

CELL_W, CELL_H, COLS = 200, 150, 10


def main():
    out, dirs = sys.argv[1], sys.argv[2:]
    files = sorted(f for d in dirs for f in Path(d).iterdir() if f.suffix == ".jpg")
    rows = (len(files) + COLS - 1) // COLS
    sheet = Image.new("RGB", (COLS * CELL_W, rows * CELL_H), "#333")
    draw = ImageDraw.Draw(sheet)
    for i, f in enumerate(files):
        im = Image.open(f).convert("RGB")
        im.thumbnail((CELL_W - 4, CELL_H - 16))
        x, y = (i % COLS) * CELL_W, (i // COLS) * CELL_H
        sheet.paste(im, (x + 2, y + 2))
        draw.text((x + 2, y + CELL_H - 13), f"{f.parent.name}/{f.stem}"[:32], fill="#ff0")
    sheet.save(out, quality=85)


if __name__ == "__main__":
    main()
