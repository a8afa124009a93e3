"""PyTorch side of training-outcome comparisons (issue 12, item 6): pytorch/examples'
fast_neural_style training loop on the same photos, crops, style image, VGG16 tensors, loss and
Adam as `fauve-train`, written out with the ops of scripts/make-fixtures.py. It saves the model
as pytorch/examples keys in safetensors, which `fauve-train eval` scores like a Fauve model.

Usage (in .venv-bench, see scripts/bench.sh):
  python scripts/train_reference.py --photos DIR --style S.jpg --vgg models/vgg16.safetensors \
      --image-size 128 --batch 4 --steps 150 --lr 1e-3 --seed 1 \
      --content-weight 833.33 --style-weight 771.6 --out model.safetensors
Photos: the shorter side resized to image_size with PIL's bilinear filter (antialiased, as
torchvision's Resize on PIL images), centre crop, a new shuffle each epoch (torch.randperm).
Initialisation: PyTorch's defaults (conv U(+-1/sqrt(fan_in)), norm scale 1 and shift 0).
"""

import argparse
import importlib.util
import json
import math
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name, file):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, file))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


ref = _load("make_fixtures", "make-fixtures.py")
bench = _load("bench_reference", "bench_reference.py")
EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}


def crop(path, size):
    img = ImageOps.exif_transpose(Image.open(path)).convert("RGB")
    w, h = img.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = img.resize((nw, nh), Image.BILINEAR)
    x0, y0 = (nw - size) // 2, (nh - size) // 2
    a = np.asarray(img.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1).contiguous()


def init_weights(seed):
    g = torch.Generator().manual_seed(seed)
    w = {}
    for key, shape, _ in ref.transformer_shapes():
        if ".conv2d." in key:
            weight = key.replace(".bias", ".weight")
            fan_in = math.prod(dict((k, s) for k, s, _ in ref.transformer_shapes())[weight][1:])
            bound = 1 / math.sqrt(fan_in)
            w[key] = (torch.rand(shape, generator=g) * 2 - 1) * bound
        elif key.endswith(".weight"):
            w[key] = torch.ones(shape)
        else:
            w[key] = torch.zeros(shape)
    return {k: v.requires_grad_(True) for k, v in w.items()}


def main():
    p = argparse.ArgumentParser()
    for a in ("--photos", "--style", "--vgg", "--out"):
        p.add_argument(a, required=True)
    p.add_argument("--image-size", type=int, default=128)
    p.add_argument("--style-size", type=int)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--steps", type=int, default=150)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--content-weight", type=float, required=True)
    p.add_argument("--style-weight", type=float, required=True)
    args = p.parse_args()
    torch.manual_seed(args.seed)
    files = sorted(f for f in Path(args.photos).rglob("*") if f.suffix.lower() in EXTENSIONS)
    photos = [crop(f, args.image_size) for f in files]
    style = Image.open(args.style).convert("RGB")
    if args.style_size:
        style.thumbnail((args.style_size, args.style_size), Image.LANCZOS)
    style = torch.from_numpy(np.asarray(style, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)
    vgg, kind = bench.load_vgg(args.vgg, torch.device("cpu"))
    taps = list(ref.TAPS.values())
    with torch.no_grad():
        fs = ref.vgg_taps(vgg, style, kind)
        style_grams = [ref.gram(fs[n]) for n in taps]
    w = init_weights(args.seed)
    opt = torch.optim.Adam(list(w.values()), lr=args.lr)
    order, pos, log, start = [], 0, [], time.perf_counter()
    for step in range(1, args.steps + 1):
        batch = []
        while len(batch) < args.batch:
            if pos >= len(order):
                order, pos = torch.randperm(len(photos)).tolist(), 0
            batch.append(photos[order[pos]])
            pos += 1
        x = torch.stack(batch)
        opt.zero_grad()
        y = ref.transformer_forward(w, x)
        fy, fx = ref.vgg_taps(vgg, y, kind), ref.vgg_taps(vgg, x, kind)
        content = args.content_weight * F.mse_loss(fy["relu2_2"], fx["relu2_2"])
        style_l = args.style_weight * sum(
            F.mse_loss(ref.gram(fy[n]), g.expand(x.shape[0], -1, -1)) for n, g in zip(taps, style_grams))
        (content + style_l).backward()
        opt.step()
        log.append([step, content.item(), style_l.item()])
    save_file({k: v.detach().contiguous() for k, v in w.items()}, args.out)
    print(json.dumps({"impl": "pytorch", "steps": args.steps, "seconds": time.perf_counter() - start,
                      "last_losses": log[-1], "photos": len(photos)}))


if __name__ == "__main__":
    main()
