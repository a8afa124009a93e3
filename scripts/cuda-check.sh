#!/usr/bin/env bash
# Type-check every CUDA code path on a machine without a GPU: installs the CUDA 13.4 compiler
# wheels from PyPI into .venv-cuda/, has candle's build compile its kernels with nvcc for
# sm_90 (Hopper; CUDA_COMPUTE_CAP overrides), and runs `cargo check --features cuda` on the whole
# workspace, with and without cuDNN. No linking, so no driver or CUDA libraries are needed. About 10 minutes the first
# time on 2 cores; the target folder is kept (FAUVE_CUDA_TARGET, default
# ~/.cache/fauve/cuda-target), so later runs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${FAUVE_CUDA_VENV:-.venv-cuda}
# cudarc 0.19 refuses newer nvcc versions: keep these pinned together.
WHEELS=(nvidia-cuda-nvcc==13.4.92 nvidia-cuda-runtime==13.4.92 nvidia-nvvm==13.4.92
        nvidia-cuda-crt==13.4.92 nvidia-cuda-cccl==13.3.5.0.6)
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
T="$SITE/nvidia/cu13"
if [ ! -x "$T/bin/nvcc" ]; then
    echo "cuda-check: installing the CUDA 13.4 compiler wheels into $VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEELS[@]}"
fi
export PATH="$T/bin:$PATH" CUDA_HOME="$T" CUDA_ROOT="$T"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${FAUVE_CUDA_TARGET:-${HOME:-/tmp}/.cache/fauve/cuda-target}
echo "cuda-check: nvcc $(nvcc --version | grep -o 'release [0-9.]*'), sm_$CUDA_COMPUTE_CAP, target $CARGO_TARGET_DIR"
# --no-default-features leaves out only fauve-train's `hub` (parquet and the Hub's HTTP client:
# no CUDA in them, and clippy checks them), which would double this check's first build.
cargo check --locked --workspace --all-targets --no-default-features --features cuda
# The cuDNN build (candle's convolutions through cuDNN) type-checks the same way: cudarc's
# bindings are Rust, so no cuDNN headers or library are needed until linking.
cargo check --locked --workspace --all-targets --no-default-features --features cudnn
echo "cuda-check: every CUDA and cuDNN path type-checks"
