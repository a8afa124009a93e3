"""Reassemble the public-domain artworks of GCompris' "paintings" puzzle (Debian package
gcompris-qt-data) into whole pictures for style training.

The activity ships each painting as jigsaw pieces (WebP) inside a Qt resource archive
(paintings.rcc), with one board file per painting giving each piece's centre as a fraction of
a 702x515 board. This reads the archive (Qt's rcc format, version 1 to 3: a tree of entries,
a names table, a data table, zlib-compressed entries flagged), places every piece at its centre,
crops to the opaque part, fills the hairline seams between pieces from their neighbours, and
writes NAME.jpg per painting plus paintings.tsv (name, artist and title, pieces).

Usage: python scripts/paintings.py PAINTINGS_RCC OUT_DIR
"""

import io
import re
import struct
import sys
import zlib
from pathlib import Path

from PIL import Image, ImageFilter

BOARD = (702, 515)

# Board file -> style name (the painting's usual short title).
NAMES = {
    "board1_0": "renoir_moulin_de_la_galette",
    "board2_0": "arcimboldo_spring",
    "board3_0": "arcimboldo_librarian",
    "board4_0": "hokusai_oiran_and_kamuro",
    "board5_0": "hokusai_woman_with_fan",
    "board6_0": "hokusai_ejiri",
    "board7_0": "great_wave",
    "board8_0": "hiroshige_inokashira_snow",
    "board9_0": "hiroshige_horse_mackerel",
    "board10_0": "hokusai_ryogoku_sunset",
    "board11_0": "hokusai_poppies",
    "board12_0": "hokusai_kazusa_sea_route",
    "board13_0": "michelangelo_pieta",
    "board14_0": "mona_lisa",
    "board15_0": "bellini_pala_di_pesaro",
    "board16_0": "durer_lion",
    "board17_0": "bruegel_harvesters",
    "board18_0": "renoir_girls_at_the_piano",
    "board19_0": "kandinsky_composition_viii",
    "board20_0": "bazille_aigues_mortes",
    "board21_0": "cassatt_summertime",
    "board22_0": "van_gogh_auvers",
}


def read_rcc(data: bytes) -> dict:
    """Every file of a Qt resource archive, by base name."""
    magic, version, tree, table, names = struct.unpack(">4sIIII", data[:20])
    if magic != b"qres" or version not in (1, 2, 3):
        raise ValueError(f"not a Qt resource archive (magic {magic!r}, version {version})")
    entry_size = 22 if version >= 2 else 14
    files = {}

    def name_at(offset):
        length = struct.unpack(">H", data[names + offset : names + offset + 2])[0]
        start = names + offset + 6
        return data[start : start + 2 * length].decode("utf-16-be")

    def walk(index):
        at = tree + index * entry_size
        name_offset, flags = struct.unpack(">IH", data[at : at + 6])
        if flags & 2:  # a directory: child count and first child
            count, first = struct.unpack(">II", data[at + 6 : at + 14])
            for k in range(count):
                walk(first + k)
            return
        offset = struct.unpack(">I", data[at + 10 : at + 14])[0]
        length = struct.unpack(">I", data[table + offset : table + offset + 4])[0]
        raw = data[table + offset + 4 : table + offset + 4 + length]
        if flags & 1:  # zlib, after a 4-byte uncompressed length
            raw = zlib.decompress(raw[4:])
        files[name_at(name_offset)] = raw

    walk(0)
    return files


def assemble(board: str, files: dict) -> tuple:
    """The painting of one board file: (title, RGB image, number of pieces)."""
    title = re.search(r'qsTr\("([^"]*)"\)', board).group(1)
    pieces = re.findall(
        r'"pixmapfile"\s*:\s*"image/([^"]+\.webp)",\s*"x"\s*:\s*"([\d.]+)",\s*"y"\s*:\s*"([\d.]+)"',
        board,
    )
    canvas = Image.new("RGBA", BOARD, (0, 0, 0, 0))
    for file, x, y in pieces:
        piece = Image.open(io.BytesIO(files[file])).convert("RGBA")
        cx, cy = float(x) * BOARD[0], float(y) * BOARD[1]
        canvas.alpha_composite(piece, (round(cx - piece.width / 2), round(cy - piece.height / 2)))
    opaque = canvas.getchannel("A").point(lambda a: 255 if a > 250 else 0)
    box = opaque.getbbox()
    canvas, opaque = canvas.crop(box), opaque.crop(box)
    rgb = canvas.convert("RGB")
    # Seams between pieces (under 0.3% of the pixels) take their neighbours' colour.
    filled = rgb.filter(ImageFilter.MedianFilter(5))
    return title, Image.composite(rgb, filled, opaque), len(pieces)


def main():
    rcc, out = Path(sys.argv[1]), Path(sys.argv[2])
    files = read_rcc(rcc.read_bytes())
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for board, name in NAMES.items():
        text = files.get(f"{board}.qml")
        if text is None:
            raise SystemExit(f"paintings: {rcc} has no {board}.qml")
        title, image, count = assemble(text.decode(), files)
        image.save(out / f"{name}.jpg", quality=95)
        rows.append(f"{name}\t{title}\t{count}")
    (out / "paintings.tsv").write_text("name\ttitle\tpieces\n" + "\n".join(rows) + "\n")
    print(f"paintings: {len(rows)} paintings in {out}")


if __name__ == "__main__":
    main()
