"""Check an ONNX export against Fauve: run the .onnx file with onnxruntime on the inputs that
fauve-bench ran, and compare the outputs (relative L2 and largest difference).

Usage:
  check_onnx.py inputs OUT.safetensors IMAGE     # two crops of IMAGE at an odd size, as `input`
  check_onnx.py compare MODEL.onnx IN.safetensors FAUVE_OUT.safetensors [W1,W2,...]
      (the style weights of a multi-style model, fed to every image as `style_weights`)
"""

import sys

import numpy as np
from safetensors.numpy import load_file, save_file

# Largest relative L2 difference from Fauve's output that passes.
BOUND = 1e-4


def inputs(out, image):
    from PIL import Image

    im = Image.open(image).convert("RGB")
    w, h = 157, 123  # neither a multiple of 4: the output is larger, as in PyTorch
    a = im.crop((0, 0, w, h))
    b = im.crop((im.width - w, im.height - h, im.width, im.height))
    x = np.stack([np.asarray(c, dtype=np.float32).transpose(2, 0, 1) for c in (a, b)])
    save_file({"input": np.ascontiguousarray(x)}, out)


def compare(onnx_path, inp, fauve_out, weights=None):
    import onnxruntime as ort

    x = load_file(inp)["input"]
    fauve = load_file(fauve_out)["output"].astype(np.float64)
    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    feeds = {"input": x}
    if weights is not None:
        w = np.array([float(v) for v in weights.split(",")], dtype=np.float32)
        feeds["style_weights"] = np.tile(w, (x.shape[0], 1))
    (y,) = session.run(["output"], feeds)
    if y.shape != fauve.shape:
        print(f"onnx: shape {y.shape} but Fauve's is {fauve.shape}")
        return 1
    y = y.astype(np.float64)
    rel = np.linalg.norm(y - fauve) / np.linalg.norm(fauve)
    worst = np.abs(y - fauve).max()
    ok = rel <= BOUND
    styles = f" with style weights [{weights}]" if weights is not None else ""
    print(f"onnx: onnxruntime {ort.__version__} on input {list(x.shape)}{styles} -> {list(y.shape)}: "
          f"relative L2 {rel:.2e} (bound {BOUND:.0e}), largest difference {worst:.2e} of 255 "
          f"-> {'ok' if ok else 'FAILED'}")
    return 0 if ok else 1


def main():
    if len(sys.argv) >= 4 and sys.argv[1] == "inputs":
        inputs(sys.argv[2], sys.argv[3])
        return 0
    if len(sys.argv) in (5, 6) and sys.argv[1] == "compare":
        return compare(*sys.argv[2:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
