#!/usr/bin/env python3
"""PyTorch's side of Fauve's benchmarks (scripts/bench.sh on the CPU, scripts/gpu-check.sh on
CUDA): writes the shared inputs, then times PyTorch eager on exactly what fauve-bench times and
compares the two results. Prints one JSON line per measurement.

  prepare     --dir D [--seed N] [--infer-sizes 256,512,1080x1920] [--train 4x128,4x256]
              randomly initialised TransformerNet weights (pytorch/examples keys and default
              init, instance-norm affine perturbed so a swapped scale/shift shows), the same for
              the slim network (half the channels: weights_slim.safetensors), and inputs
  infer       --dir D --size S [--device cpu|cuda] [--threads N] [--fauve-output F]
              [--weights weights_slim.safetensors] (in D; also for ort-infer)
  train-step  --dir D --batch BxS --vgg F [--device] [--threads] [--fauve-losses JSON]
  ort-infer   --dir D --size S [--threads N] [--fauve-output F]
              the same network exported to ONNX (static shape) and run by ONNX Runtime (CPU)
  bf16-error  [--device cuda]   what bf16 autocast costs PyTorch on the parity test's case
              (tests/fixtures input, generated weights): relative error of the output and of
              the res3.conv1 weight gradient of mean(output^2), against f32

The network is scripts/make-fixtures.py's op-by-op TransformerNet (the parity tests' reference),
and the training step is pytorch/examples fast_neural_style's: Adam, VGG16 taps of the output and
of the input, MSE content loss at relu2_2, summed MSE of Gram matrices at four taps.
"""

import argparse
import importlib.util
import json
import math
import os
import resource
import sys
import time

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("make_fixtures", os.path.join(HERE, "make-fixtures.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def size_of(text):
    """'512' -> (512, 512); '1080x1920' -> (1080, 1920) as (H, W)."""
    parts = [int(p) for p in text.split("x")]
    return (parts[0], parts[0]) if len(parts) == 1 else (parts[0], parts[1])


def prepare(args):
    os.makedirs(args.dir, exist_ok=True)
    g = torch.Generator().manual_seed(args.seed)
    for name, widths in (("weights.safetensors", (32, 64, 128)),
                         ("weights_slim.safetensors", (16, 32, 64))):
        weights = {}
        for key, shape, (offset, amplitude) in ref.transformer_shapes(widths):
            if ".conv2d." in key:
                # PyTorch's default conv init: U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the table's amplitude.
                weights[key] = (torch.rand(shape, generator=g) * 2 - 1) * amplitude
            else:
                weights[key] = offset + 0.1 * torch.randn(shape, generator=g)
        save_file({k: v.contiguous() for k, v in weights.items()}, os.path.join(args.dir, name))
    for s in args.infer_sizes.split(","):
        h, w = size_of(s)
        x = torch.rand(1, 3, h, w, generator=g) * 255
        save_file({"input": x}, os.path.join(args.dir, f"infer_{s}.safetensors"))
    for spec in args.train.split(","):
        b, s = (int(p) for p in spec.split("x"))
        content = torch.rand(b, 3, s, s, generator=g) * 255
        style = torch.rand(1, 3, 256, 256, generator=g) * 255
        save_file({"content": content, "style": style}, os.path.join(args.dir, f"batch_{spec}.safetensors"))
    print(json.dumps({"prepared": args.dir}))


def setup(args):
    if args.threads:
        torch.set_num_threads(args.threads)
    # "default" is PyTorch's own: cuDNN convolutions may use TF32, matrix products may not.
    # "f32" forbids TF32 everywhere; "bf16" runs under autocast (see autocast()).
    strict = getattr(args, "precision", "default") == "f32"
    torch.backends.cudnn.allow_tf32 = not strict
    torch.backends.cuda.matmul.allow_tf32 = False
    return torch.device(args.device)


def autocast(args, device):
    """bf16 autocast for --precision bf16, else a no-op context."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.precision == "bf16")


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def time_runs(device, warmup, runs, fn):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - start) * 1e3)
    return times


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def rel_l2(a, b):
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / b.norm())


def peak_memory(device):
    out = {"peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["cuda_peak_reserved_mib"] = torch.cuda.max_memory_reserved() / 2**20
        out["cuda_peak_allocated_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def load_weights(args, device, requires_grad=False):
    w = load_file(os.path.join(args.dir, getattr(args, "weights", "weights.safetensors")))
    return {k: v.to(device).requires_grad_(requires_grad) for k, v in w.items()}


def infer(args):
    device = setup(args)
    w = load_weights(args, device)
    x = load_file(os.path.join(args.dir, f"infer_{args.size}.safetensors"))["input"].to(device)
    out = {}

    def run():
        with torch.no_grad(), autocast(args, device):
            out["y"] = ref.transformer_forward(w, x).float()

    times = time_runs(device, args.warmup, args.runs, run)
    report = {"bench": "infer", "impl": "pytorch", "precision": args.precision,
              "tf32_conv": torch.backends.cudnn.allow_tf32, "device": args.device, "shape": list(x.shape),
              "median_ms": median(times), "times_ms": times, "threads": torch.get_num_threads()}
    if args.fauve_output:
        fauve = load_file(args.fauve_output)["output"]
        report["rel_l2_fauve_vs_pytorch"] = rel_l2(fauve, out["y"])
    report.update(peak_memory(device))
    print(json.dumps(report))


def ort_infer(args):
    import onnxruntime as ort

    device = setup(args)
    w = load_weights(args, device)
    x = load_file(os.path.join(args.dir, f"infer_{args.size}.safetensors"))["input"]

    class Net(torch.nn.Module):
        def forward(self, inp):
            return ref.transformer_forward(w, inp)

    stem = os.path.splitext(args.weights)[0]
    path = os.path.join(args.dir, f"transformer_{stem}_{args.size}.onnx")
    if not os.path.exists(path):
        torch.onnx.export(Net(), (x,), path, input_names=["input"], output_names=["output"],
                          opset_version=17, dynamo=False)
    opts = ort.SessionOptions()
    if args.threads:
        opts.intra_op_num_threads = args.threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    feed = {"input": x.numpy()}
    out = {}

    def run():
        out["y"] = sess.run(None, feed)[0]

    times = time_runs(torch.device("cpu"), args.warmup, args.runs, run)
    report = {"bench": "infer", "impl": "onnxruntime", "version": ort.__version__, "device": "cpu",
              "shape": list(x.shape), "median_ms": median(times), "times_ms": times, "threads": args.threads}
    if args.fauve_output:
        fauve = load_file(args.fauve_output)["output"]
        report["rel_l2_fauve_vs_onnxruntime"] = rel_l2(fauve, torch.from_numpy(out["y"]))
    report.update(peak_memory(torch.device("cpu")))
    print(json.dumps(report))


def load_vgg(path, device):
    with safe_open(path, framework="pt") as f:
        kind = (f.metadata() or {}).get("preprocess", "torchvision")
    w = {k: v.to(device) for k, v in load_file(path).items()}
    return w, kind


def train_step(args):
    device = setup(args)
    w = load_weights(args, device, requires_grad=True)
    batch = load_file(os.path.join(args.dir, f"batch_{args.batch}.safetensors"))
    x, style = batch["content"].to(device), batch["style"].to(device)
    vgg, kind = load_vgg(args.vgg, device)
    taps = list(ref.TAPS.values())
    with torch.no_grad():
        style_grams = [ref.gram(f) for f in (ref.vgg_taps(vgg, style, kind)[n] for n in taps)]
    opt = torch.optim.Adam(list(w.values()), lr=args.lr)
    losses = []

    def step():
        opt.zero_grad()
        with autocast(args, device):
            y = ref.transformer_forward(w, x)
            fy = ref.vgg_taps(vgg, y, kind)
            fx = ref.vgg_taps(vgg, x, kind)
        # Losses in f32, as Fauve's bf16 precision keeps them.
        fy = {k: v.float() for k, v in fy.items()}
        fx = {k: v.float() for k, v in fx.items()}
        content = args.content_weight * F.mse_loss(fy["relu2_2"], fx["relu2_2"])
        style_l = args.style_weight * sum(
            F.mse_loss(ref.gram(fy[n]), g.expand(x.shape[0], -1, -1)) for n, g in zip(taps, style_grams))
        total = content + style_l
        total.backward()
        opt.step()
        if len(losses) < 2:
            losses.append([content.item(), style_l.item(), total.item()])

    times = time_runs(device, args.warmup, args.runs, step)
    ms = median(times)
    report = {"bench": "train_step", "impl": "pytorch", "precision": args.precision,
              "tf32_conv": torch.backends.cudnn.allow_tf32, "device": args.device, "shape": list(x.shape),
              "median_ms": ms, "images_per_s": x.shape[0] / (ms / 1e3), "times_ms": times,
              "losses_content_style_total": losses, "threads": torch.get_num_threads()}
    if args.fauve_losses:
        theirs = json.loads(args.fauve_losses)["losses_content_style_total"]
        report["loss_rel_err_fauve_vs_pytorch"] = max(
            abs(a - b) / abs(b) for fr, pr in zip(theirs, losses) for a, b in zip(fr, pr))
    report.update(peak_memory(device))
    print(json.dumps(report))


def bf16_error(args):
    """PyTorch's own bf16 error on the case tests/it/parity.rs checks Fauve's bf16 path on."""
    import numpy as np
    from safetensors.numpy import load_file as load_np
    device = torch.device(args.device)
    fx = load_np(os.path.join(os.path.dirname(HERE), "tests", "fixtures", "transformer_parity.safetensors"))
    x = torch.from_numpy(fx["input"]).to(device)
    w = {k: torch.from_numpy(ref.generated(k, s, *p)).to(device).requires_grad_(True)
         for k, s, p in ref.transformer_shapes()}
    key = "res3.conv1.conv2d.weight"
    results = {}
    for mode in ("f32", "bf16"):
        for t in w.values():
            t.grad = None
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=mode == "bf16"):
            y = ref.transformer_forward(w, x)
        y = y.float()
        y.pow(2).mean().backward()
        results[mode] = (y.detach(), w[key].grad.detach().clone())
    print(json.dumps({
        "bench": "bf16_error", "impl": "pytorch-autocast", "device": args.device,
        "tf32_conv": torch.backends.cudnn.allow_tf32,
        "output_rel_l2_vs_pytorch_f32_fixture": rel_l2(results["bf16"][0], torch.from_numpy(fx["output"])),
        "output_rel_l2_vs_f32": rel_l2(results["bf16"][0], results["f32"][0]),
        "grad_rel_l2_vs_f32": rel_l2(results["bf16"][1], results["f32"][1]),
    }))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("prepare")
    pp.add_argument("--dir", required=True)
    pp.add_argument("--seed", type=int, default=0)
    pp.add_argument("--infer-sizes", default="256,512,1024")
    pp.add_argument("--train", default="4x128,4x256")
    for name in ("infer", "ort-infer", "train-step"):
        q = sub.add_parser(name)
        q.add_argument("--dir", required=True)
        q.add_argument("--device", default="cpu")
        q.add_argument("--threads", type=int, default=0)
        q.add_argument("--warmup", type=int, default=2)
        q.add_argument("--runs", type=int, default=5)
    for name in ("infer", "train-step"):
        sub.choices[name].add_argument(
            "--precision", choices=("default", "f32", "bf16"), default="default",
            help="default: PyTorch's (TF32 allowed in cuDNN convolutions); f32: no TF32; bf16: autocast")
    for name in ("infer", "ort-infer"):
        qi = sub.choices[name]
        qi.add_argument("--size", required=True)
        qi.add_argument("--fauve-output")
        qi.add_argument("--weights", default="weights.safetensors")
    qt = sub.choices["train-step"]
    qt.add_argument("--batch", required=True)
    qt.add_argument("--vgg", required=True)
    qt.add_argument("--lr", type=float, default=1e-3)
    qt.add_argument("--content-weight", type=float, default=30.0)
    qt.add_argument("--style-weight", type=float, default=800.0)
    qt.add_argument("--fauve-losses")
    qb = sub.add_parser("bf16-error")
    qb.add_argument("--device", default="cuda")
    args = p.parse_args()
    torch.manual_seed(0)
    {"prepare": prepare, "infer": infer, "ort-infer": ort_infer, "train-step": train_step,
     "bf16-error": bf16_error}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
