"""Byte-stable safetensors writing for the weight converters (their outputs' SHA-256 are pinned)."""
import json
import struct


def save_deterministic(tensors, path, metadata):
    """Write f32 tensors as safetensors with a byte-stable header (sorted keys), so the result's
    SHA-256 can be checked; the safetensors package orders metadata at random."""
    header = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    for name in sorted(tensors):
        t = tensors[name]
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + t.nbytes]}
        offset += t.nbytes
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)))
        f.write(blob)
        for name in sorted(tensors):
            f.write(tensors[name].astype("<f4").tobytes())
