#!/usr/bin/env python3
"""Writes tests/fixtures/hub_shard.parquet with pyarrow, laid out as the Hugging Face `datasets`
library writes an image dataset: an `image` column of Image-feature structs (`bytes`, `path`),
a `label` beside it, the `huggingface` schema metadata, snappy compression and small row groups.
Fauve's shard reader is tested against it, so that the reader is checked on a file written by
an independent writer, not only by the parquet crate that reads it.

Rows (row groups of 3): 0-5 are 6x4 PNGs whose every pixel is (40 * i + 10, 20, 30); row 6 has
a null `bytes` (an image stored by path only); row 7 is a null struct.

Needs pyarrow and Pillow: python3 -m pip install pyarrow pillow
"""
import io
import json
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

OUT = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hub_shard.parquet"


def png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (6, 4), (40 * i + 10, 20, 30)).save(buf, format="PNG")
    return buf.getvalue()


def main() -> None:
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    images = [{"bytes": png(i), "path": f"{i:05d}.png"} for i in range(6)]
    images.append({"bytes": None, "path": "only-a-path.png"})
    images.append(None)
    features = {"image": {"_type": "Image"}, "label": {"dtype": "int64", "_type": "Value"}}
    schema = pa.schema(
        [("image", image_type), ("label", pa.int64())],
        metadata={"huggingface": json.dumps({"info": {"features": features}})},
    )
    table = pa.table(
        {"image": pa.array(images, type=image_type), "label": pa.array(range(8), pa.int64())},
        schema=schema,
    )
    pq.write_table(table, OUT, row_group_size=3, compression="snappy")
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes, {pq.ParquetFile(OUT).num_row_groups} row groups)")


if __name__ == "__main__":
    main()
