"""PyTorch side of `fauve-train preview`: the same Gatys optimisation (pixels of the photo,
L-BFGS with a strong-Wolfe line search, history 50, the same loss) for comparing final losses.

Usage (in .venv-bench, see scripts/bench.sh):
  python scripts/preview_reference.py --photo P.png --style S.png --vgg models/vgg16.safetensors \
      --content-weight 833.33 --style-weight 771.6 --iterations 100
  VGG19 (told by its keys) with Gatys' layers:
      ... --vgg models/vgg19.safetensors --content-layer relu4_2 \
      --style-layers relu1_1,relu2_1,relu3_1,relu4_1,relu5_1
The images are used as they are (no resizing), so give both programs the same pixels.
Prints one JSON line: start and end losses, iterations, evaluations, seconds.
"""

import argparse
import importlib.util
import json
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(HERE, "make-fixtures.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)
_spec = importlib.util.spec_from_file_location("bench_reference", os.path.join(HERE, "bench_reference.py"))
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)


def image(path):
    a = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32)
    return torch.from_numpy(a).permute(2, 0, 1).unsqueeze(0).contiguous()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--photo", required=True)
    p.add_argument("--style", required=True)
    p.add_argument("--vgg", required=True)
    p.add_argument("--content-weight", type=float, required=True)
    p.add_argument("--style-weight", type=float, required=True)
    p.add_argument("--iterations", type=int, default=100)
    p.add_argument("--history", type=int, default=50)
    p.add_argument("--content-layer", default="relu2_2")
    p.add_argument("--style-layers", default=",".join(ref.TAPS.values()))
    p.add_argument("--out")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count())
    vgg, kind = bench.load_vgg(args.vgg, torch.device("cpu"))
    # Only VGG19 has a conv at features.16; its taps function returns all 16 ReLUs.
    taps = args.style_layers.split(",")
    content_layer = args.content_layer
    if "features.16.weight" in vgg:
        def vgg_taps(w, x, kind):
            return ref.vgg19_taps(w, x, kind, needed=taps + [content_layer])
    else:
        vgg_taps = ref.vgg_taps
    x, style = image(args.photo), image(args.style)
    with torch.no_grad():
        fs = vgg_taps(vgg, style, kind)
        style_grams = [ref.gram(fs[n]) for n in taps]
        content_target = vgg_taps(vgg, x, kind)[content_layer]
    y = x.clone().requires_grad_(True)
    evals, history = [0], []

    def loss_terms():
        fy = vgg_taps(vgg, y, kind)
        content = args.content_weight * F.mse_loss(fy[content_layer], content_target)
        style_l = args.style_weight * sum(F.mse_loss(ref.gram(fy[n]), g) for n, g in zip(taps, style_grams))
        return content, style_l

    def closure():
        opt.zero_grad()
        content, style_l = loss_terms()
        total = content + style_l
        total.backward()
        evals[0] += 1
        history.append([content.item(), style_l.item(), total.item()])
        return total

    opt = torch.optim.LBFGS([y], lr=1, max_iter=args.iterations, max_eval=args.iterations * 10,
                            tolerance_grad=0, tolerance_change=0, history_size=args.history,
                            line_search_fn="strong_wolfe")
    start = time.perf_counter()
    opt.step(closure)
    seconds = time.perf_counter() - start
    with torch.no_grad():
        content, style_l = loss_terms()
    state = opt.state[opt._params[0]]
    if args.out:
        out = y.detach().clamp(0, 255).round().squeeze(0).permute(1, 2, 0).to(torch.uint8).numpy()
        Image.fromarray(out).save(args.out)
    print(json.dumps({"impl": "pytorch", "start": history[0], "end": [content.item(), style_l.item(),
                      content.item() + style_l.item()], "iterations": state["n_iter"],
                      "evaluations": evals[0], "seconds": seconds, "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
