"""PyTorch side of `fauve-train preview`: the same Gatys optimisation (pixels of the photo,
L-BFGS with a strong-Wolfe line search, history 50, the same loss) for comparing final losses.

Usage (in .venv-bench, see scripts/bench.sh):
  python scripts/preview_reference.py --photo P.png --style S.png --vgg models/vgg16.safetensors \
      --content-weight 833.33 --style-weight 771.6 --iterations 100
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
    p.add_argument("--out")
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count())
    vgg, kind = bench.load_vgg(args.vgg, torch.device("cpu"))
    x, style = image(args.photo), image(args.style)
    taps = list(ref.TAPS.values())
    with torch.no_grad():
        fs = ref.vgg_taps(vgg, style, kind)
        style_grams = [ref.gram(fs[n]) for n in taps]
        content_target = ref.vgg_taps(vgg, x, kind)["relu2_2"]
    y = x.clone().requires_grad_(True)
    evals, history = [0], []

    def loss_terms():
        fy = ref.vgg_taps(vgg, y, kind)
        content = args.content_weight * F.mse_loss(fy["relu2_2"], content_target)
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
