#!/usr/bin/env python3
"""Write the PyTorch reference fixtures under tests/fixtures/ (run by hand, rarely).

An independent reference for Fauve's numerical code: the transform network, the VGG16 and VGG19 taps and
the losses are written here from their definitions (the README; pytorch/examples
fast_neural_style) in plain PyTorch, evaluated in float64, and stored as
f32. Run it with scripts/make-fixtures.sh, which makes a venv with torch.

The full-size transform network (6.7 MB) is too large to commit, so its weights come from a
deterministic generator that tests/src/lib.rs (`generated`) implements identically:
    seed  = FNV-1a-64(key bytes)
    u_i   = (splitmix64(seed + i) >> 40) / 2**24          (exact in f32)
    value = f32(offset + amplitude * (2 * u_i - 1))        (computed in f64)
with (offset, amplitude) = (0, 1/sqrt(fan_in)) for conv weights and biases, (1, 0.5) for
instance-norm weights and (0, 0.5) for instance-norm biases.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.numpy import save_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures")
MASK64 = (1 << 64) - 1


def fnv1a64(data: bytes) -> int:
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def splitmix64(xs: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        z = xs + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def generated(key: str, shape, offset: float, amplitude: float) -> np.ndarray:
    n = int(np.prod(shape))
    with np.errstate(over="ignore"):
        idx = np.uint64(fnv1a64(key.encode())) + np.arange(n, dtype=np.uint64)
    u = (splitmix64(idx) >> np.uint64(40)).astype(np.float64) / float(1 << 24)
    return (offset + amplitude * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


def transformer_shapes(widths=(32, 64, 128)):
    """(key, shape, kind) for every tensor of pytorch/examples' TransformerNet, or of the same
    network with other widths (the slim one: 16, 32, 64)."""
    c1, c2, c3 = widths
    convs = [("conv1", 3, c1, 9), ("conv2", c1, c2, 3), ("conv3", c2, c3, 3)]
    for i in range(1, 6):
        convs += [(f"res{i}.conv1", c3, c3, 3), (f"res{i}.conv2", c3, c3, 3)]
    convs += [("deconv1", c3, c2, 3), ("deconv2", c2, c1, 3), ("deconv3", c1, 3, 9)]
    norms = [("in1", c1), ("in2", c2), ("in3", c3)]
    for i in range(1, 6):
        norms += [(f"res{i}.in1", c3), (f"res{i}.in2", c3)]
    norms += [("in4", c2), ("in5", c1)]
    out = []
    for name, cin, cout, k in convs:
        fan_in = cin * k * k
        out.append((f"{name}.conv2d.weight", (cout, cin, k, k), (0.0, 1 / math.sqrt(fan_in))))
        out.append((f"{name}.conv2d.bias", (cout,), (0.0, 1 / math.sqrt(fan_in))))
    for name, c in norms:
        out.append((f"{name}.weight", (c,), (1.0, 0.5)))
        out.append((f"{name}.bias", (c,), (0.0, 0.5)))
    return out


def transformer_forward(w, x):
    """pytorch/examples' TransformerNet, written out op by op."""

    def conv(name, x, stride=1):
        k = w[f"{name}.conv2d.weight"]
        x = F.pad(x, [k.shape[-1] // 2] * 4, mode="reflect")
        return F.conv2d(x, k, w[f"{name}.conv2d.bias"], stride=stride)

    def inorm(name, x):
        return F.instance_norm(x, weight=w[f"{name}.weight"], bias=w[f"{name}.bias"], eps=1e-5)

    def up(x):
        return F.interpolate(x, scale_factor=2, mode="nearest")

    y = F.relu(inorm("in1", conv("conv1", x)))
    y = F.relu(inorm("in2", conv("conv2", y, 2)))
    y = F.relu(inorm("in3", conv("conv3", y, 2)))
    for i in range(1, 6):
        r = F.relu(inorm(f"res{i}.in1", conv(f"res{i}.conv1", y)))
        y = y + inorm(f"res{i}.in2", conv(f"res{i}.conv2", r))
    y = F.relu(inorm("in4", conv("deconv1", up(y))))
    y = F.relu(inorm("in5", conv("deconv2", up(y))))
    return conv("deconv3", y)


VGG_CONVS = [0, 2, 5, 7, 10, 12, 14, 17, 19, 21]
VGG_TINY_WIDTHS = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8]
TAPS = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3", 22: "relu4_3"}
POOLS = {4, 9, 16}


def preprocess(x, kind):
    if kind == "caffe_bgr":
        mean = torch.tensor([103.939, 116.779, 123.68], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
        return x.flip(1) - mean
    mean = torch.tensor([0.485, 0.456, 0.406], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return (x / 255 - mean) / std


def vgg_taps(w, x, kind):
    """torchvision's vgg16().features[:23], written out layer by layer."""
    y = preprocess(x, kind)
    taps = {}
    for i in range(23):
        if i in VGG_CONVS:
            y = F.conv2d(y, w[f"features.{i}.weight"], w[f"features.{i}.bias"], padding=1)
        elif i in POOLS:
            y = F.max_pool2d(y, 2)
        else:
            y = F.relu(y)
        if i in TAPS:
            taps[TAPS[i]] = y
    return taps


# torchvision's vgg19().features: C = conv, R = ReLU, P = max-pool.
VGG19_LAYOUT = "C R C R P C R C R P C R C R C R C R P C R C R C R C R P C R C R C R C R P".split()
VGG19_BLOCKS = [2, 2, 4, 4, 4]
VGG19_TINY_WIDTHS = [4, 4, 6, 6, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]
VGG19_NAMES = [f"relu{b}_{c}" for b, n in enumerate(VGG19_BLOCKS, 1) for c in range(1, n + 1)]
GATYS_STYLE = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]


def vgg19_taps(w, x, kind, needed=None):
    """torchvision's vgg19().features[:36], written out layer by layer; every ReLU is a tap.
    With `needed` (tap names), it stops once those are computed."""
    y = preprocess(x, kind)
    taps, conv = {}, 0
    for i, layer in enumerate(VGG19_LAYOUT[:36]):
        if needed is not None and all(n in taps for n in needed):
            break
        if layer == "C":
            y = F.conv2d(y, w[f"features.{i}.weight"], w[f"features.{i}.bias"], padding=1)
        elif layer == "P":
            y = F.max_pool2d(y, 2)
        else:
            y = F.relu(y)
            taps[VGG19_NAMES[conv]] = y
            conv += 1
    return taps


def random_vgg(convs, widths, g, name):
    """Narrow random convs at torchvision's `features` indices, He-scaled, saved as `name` with
    Caffe preprocessing metadata; returned in float64."""
    vgg = {}
    cin = 3
    for idx, cout in zip(convs, widths):
        std = math.sqrt(2.0 / (cin * 9))
        vgg[f"features.{idx}.weight"] = (torch.randn(cout, cin, 3, 3, generator=g) * std).double()
        vgg[f"features.{idx}.bias"] = (torch.randn(cout, generator=g) * 0.1).double()
        cin = cout
    save_file({k: np32(v) for k, v in vgg.items()}, os.path.join(OUT, name),
              metadata={"preprocess": "caffe_bgr"})
    return vgg


def vgg19_fixtures():
    """A narrow random VGG19 (no `network` metadata: the loader tells it by its keys), its 16
    taps on a batch whose sides pool unevenly down to 2x2 at block 5, and Gatys' loss (content
    relu4_2, style relu1_1 .. relu5_1) with its gradient to the image. A generator of its own
    keeps the older fixtures' numbers unchanged."""
    g = torch.Generator().manual_seed(1919)
    convs = [i for i, layer in enumerate(VGG19_LAYOUT) if layer == "C"]
    vgg = random_vgg(convs, VGG19_TINY_WIDTHS, g, "vgg19_tiny.safetensors")
    a = (torch.rand(2, 3, 41, 37, generator=g, dtype=torch.float64) * 255).float().double()
    b = (torch.rand(2, 3, 41, 37, generator=g, dtype=torch.float64) * 255).float().double()
    s = (torch.rand(1, 3, 36, 44, generator=g, dtype=torch.float64) * 255).float().double()
    out = {"image_a": np32(a), "image_b": np32(b), "style": np32(s)}
    ta = vgg19_taps(vgg, a, "caffe_bgr")
    for name in VGG19_NAMES:
        out[f"caffe_bgr.{name}"] = np32(ta[name])
    tb, ts = vgg19_taps(vgg, b, "caffe_bgr"), vgg19_taps(vgg, s, "caffe_bgr")
    a_var = a.clone().requires_grad_(True)
    tv = vgg19_taps(vgg, a_var, "caffe_bgr")
    content = F.mse_loss(tv["relu4_2"], tb["relu4_2"])
    style = sum(F.mse_loss(gram(tv[n]), gram(ts[n]).expand(2, -1, -1)) for n in GATYS_STYLE)
    (content + style).backward()
    out["gatys.content_loss"] = np32(content.reshape(1))
    out["gatys.style_loss"] = np32(style.reshape(1))
    out["gatys.grad_image_a"] = np32(a_var.grad)
    save_file(out, os.path.join(OUT, "vgg19_reference.safetensors"))
    print("vgg19: 16 taps of", tuple(a.shape), "and Gatys' loss gradient")


def gram(f):
    b, c, h, wd = f.shape
    f = f.reshape(b, c, h * wd)
    return f.bmm(f.transpose(1, 2)) / (c * h * wd)


def np32(t):
    return t.detach().to(torch.float32).contiguous().numpy()


def slim_fixture():
    """The slim transform network (half the widths) on a 3x29x35 input: output and the input's
    gradient of mean(y²); its own generator, so the other fixtures do not move."""
    g = torch.Generator().manual_seed(4321)
    weights = {k: torch.from_numpy(generated(k, s, *p)).double()
               for k, s, p in transformer_shapes((16, 32, 64))}
    x = (torch.rand(1, 3, 29, 35, generator=g, dtype=torch.float64) * 255).float().double()
    x.requires_grad_(True)
    y = transformer_forward(weights, x)
    (y * y).mean().backward()
    fixture = {"input": np32(x), "output": np32(y), "grad.input": np32(x.grad)}
    save_file(fixture, os.path.join(OUT, "transformer_slim_parity.safetensors"))
    print("slim transformer: input", tuple(x.shape), "-> output", tuple(y.shape))


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(1234)

    # Transform network on a 3x37x45 input (sides not multiples of 4).
    weights = {k: torch.from_numpy(generated(k, s, *p)).double() for k, s, p in transformer_shapes()}
    x = torch.rand(1, 3, 37, 45, generator=g, dtype=torch.float64) * 255
    x = x.float().double()  # the stored f32 input is exactly what was run
    for wt in weights.values():
        wt.requires_grad_(True)
    x.requires_grad_(True)
    y = transformer_forward(weights, x)
    # Gradients of mean(y²): the input, and parameters of each kind of layer (strided conv,
    # upsampling conv, the last 9x9 conv and its bias, instance norm scale and shift, one in a
    # residual block), kept small: the 128-channel kernels would add 1 MB.
    (y * y).mean().backward()
    grad_keys = ["conv2.conv2d.weight", "deconv2.conv2d.weight", "deconv3.conv2d.weight",
                 "deconv3.conv2d.bias", "in4.weight", "in4.bias", "res3.in1.weight"]
    fixture = {"input": np32(x), "output": np32(y), "grad.input": np32(x.grad)}
    fixture.update({f"grad.{k}": np32(weights[k].grad) for k in grad_keys})
    save_file(fixture, os.path.join(OUT, "transformer_parity.safetensors"))
    print("transformer: input", tuple(x.shape), "-> output", tuple(y.shape))

    # A narrow random VGG16 (channel counts read from shapes by the loader).
    vgg = random_vgg(VGG_CONVS, VGG_TINY_WIDTHS, g, "vgg16_tiny.safetensors")

    # Taps and losses on two non-square images whose sides pool unevenly.
    a = (torch.rand(2, 3, 30, 22, generator=g, dtype=torch.float64) * 255).float().double()
    b = (torch.rand(2, 3, 30, 22, generator=g, dtype=torch.float64) * 255).float().double()
    s = (torch.rand(1, 3, 26, 34, generator=g, dtype=torch.float64) * 255).float().double()
    out = {"image_a": np32(a), "image_b": np32(b), "style": np32(s)}
    for kind in ("caffe_bgr", "torchvision"):
        ta, tb, ts = vgg_taps(vgg, a, kind), vgg_taps(vgg, b, kind), vgg_taps(vgg, s, kind)
        for name in TAPS.values():
            out[f"{kind}.{name}"] = np32(ta[name])
        out[f"{kind}.gram_relu3_3"] = np32(gram(ta["relu3_3"]))
        content = F.mse_loss(ta["relu2_2"], tb["relu2_2"])
        style = sum(F.mse_loss(gram(ta[n]), gram(ts[n]).expand(2, -1, -1)) for n in TAPS.values())
        out[f"{kind}.content_loss"] = np32(content.reshape(1))
        out[f"{kind}.style_loss"] = np32(style.reshape(1))
        # The gradient that trains the transform network: content + style loss back through
        # VGG16 (max pools, ReLUs, convs, Grams) to image a.
        a_var = a.clone().requires_grad_(True)
        ta_var = vgg_taps(vgg, a_var, kind)
        content = F.mse_loss(ta_var["relu2_2"], tb["relu2_2"])
        style = sum(F.mse_loss(gram(ta_var[n]), gram(ts[n]).expand(2, -1, -1)) for n in TAPS.values())
        (content + style).backward()
        out[f"{kind}.grad_image_a"] = np32(a_var.grad)
    tv = (a[:, :, 1:, :] - a[:, :, :-1, :]).abs().sum() + (a[:, :, :, 1:] - a[:, :, :, :-1]).abs().sum()
    out["tv_image_a"] = np32(tv.reshape(1))
    save_file(out, os.path.join(OUT, "vgg_reference.safetensors"))

    vgg19_fixtures()
    slim_fixture()

    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"fixtures written to {OUT}: {total / 1024:.0f} KiB in all")
    return 0


if __name__ == "__main__":
    sys.exit(main())
