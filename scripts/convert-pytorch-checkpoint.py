#!/usr/bin/env python3
"""Convert a pytorch/examples fast_neural_style checkpoint (.pth/.model state dict, e.g. their
published mosaic, candy, udnie and rain_princess models) to a Fauve model file.

    python3 scripts/convert-pytorch-checkpoint.py mosaic.pth mosaic.safetensors [--style-name NAME]

Needs torch and safetensors (pip install torch safetensors). Old checkpoints' instance-norm
running statistics (inN.running_mean/var) are dropped; every tensor is stored as f32.
"""
import argparse
import json
import os
import sys

import torch
from safetensors.torch import save_file

# Keep in step with common/src/io/model_file.rs and common/src/model/transformer.rs.
FORMAT_NAME = "fauve-style-model"
FORMAT_VERSION = "1"
ARCHITECTURE = "johnson2016-transformer-net"
STRAY = ("running_mean", "running_var", "num_batches_tracked")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="pytorch/examples TransformerNet state dict (.pth or .model)")
    p.add_argument("output", help="Fauve model file to write (.safetensors)")
    p.add_argument("--style-name", help="style name stored in the file (default: checkpoint file name)")
    args = p.parse_args()

    try:
        state = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds; all mean "not a readable checkpoint"
        print(f"error: {args.checkpoint}: cannot read as a PyTorch checkpoint: {e}", file=sys.stderr)
        return 1
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or "conv1.conv2d.weight" not in state:
        print(f"error: {args.checkpoint}: no `conv1.conv2d.weight`; not a fast_neural_style TransformerNet",
              file=sys.stderr)
        return 1
    tensors = {
        k: v.detach().to(torch.float32).contiguous()
        for k, v in state.items()
        if not k.endswith(STRAY)
    }
    style = args.style_name or os.path.splitext(os.path.basename(args.checkpoint))[0]
    metadata = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": ARCHITECTURE,
        "style_name": style,
        "training": json.dumps({"source": "converted from a pytorch/examples checkpoint",
                                "checkpoint": os.path.basename(args.checkpoint)}),
    }
    tmp = args.output + ".tmp"
    save_file(tensors, tmp, metadata=metadata)
    os.replace(tmp, args.output)
    print(f"wrote {args.output}: {len(tensors)} tensors, style `{style}`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
