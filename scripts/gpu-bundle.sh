#!/usr/bin/env bash
# Build the CUDA binaries here, on a machine without a GPU, and pack what scripts/gpu-check.sh
# needs on a GPU machine (which has no Rust toolchain) into gpu-bundle/: fauve-train,
# fauve-infer, fauve-bench and the two test binaries, for plain `cuda` and for `cudnn`
# (packed into bins.tar.xz), plus the VGG16 file and the sample photos. Carry gpu-bundle/ to the GPU machine and run
# scripts/gpu-check.sh there.
#
# Linking needs the CUDA libraries candle links against (cuBLAS, cuRAND, NVRTC, cuDNN: wheels
# from PyPI, into .venv-cuda/) and libcuda.so, which only a driver carries: a stub is built from
# the driver symbols cudarc imports. The stub is for linking here only and never enters the
# bundle; on the GPU machine the real driver is found first.
#
# Usage: scripts/gpu-bundle.sh [--features cuda|cudnn]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

VARIANTS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --features) VARIANTS+=("$2"); shift 2 ;;
        -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
        *) echo "gpu-bundle: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(cuda cudnn)

[ -f models/vgg16.safetensors ] || scripts/fetch-vgg16.sh
scripts/fetch-photos.sh

# The kernels are compiled to PTX, which the GPU machine's driver compiles on loading: its CUDA
# version (13.0, driver 580) must be at least the compiler's, so this build uses the 13.0
# compiler (the type-check in cuda-check.sh may use a newer one). FAUVE_BUNDLE_CUDA overrides.
CUDA_VER=${FAUVE_BUNDLE_CUDA:-13.0.88}
CCCL_VER=${FAUVE_BUNDLE_CCCL:-13.0.85}
VENV=${FAUVE_BUNDLE_VENV:-.venv-cuda-bundle}
WHEELS=(nvidia-cuda-nvcc==$CUDA_VER nvidia-cuda-runtime==$CUDA_VER nvidia-nvvm==$CUDA_VER
        nvidia-cuda-crt==$CUDA_VER nvidia-cuda-cccl==$CCCL_VER nvidia-cuda-nvrtc==$CUDA_VER
        nvidia-curand==10.4.5.25 nvidia-cublas==13.10.0.20 nvidia-cudnn-cu13==9.28.1.4)
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
SITE=$("$VENV/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
T="$SITE/nvidia/cu13"
# (sed, not grep -q: grep quitting early would fail the pipeline under pipefail every time.)
# (pip show fails when the wheel is not installed yet: that is an empty version, not an error.)
NVCC_VER=$({ "$VENV/bin/python" -m pip show nvidia-cuda-nvcc 2>/dev/null || true; } | sed -n 's/^Version: //p')
if [ "$NVCC_VER" != "$CUDA_VER" ] || [ ! -f "$T/lib/libcublas.so.13" ] || [ ! -d "$SITE/nvidia/cudnn/lib" ]; then
    echo "gpu-bundle: installing the CUDA $CUDA_VER compiler and library wheels into $VENV (about 2 GB)"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${WHEELS[@]}"
fi

# Unversioned names for the linker, and the driver stub, in one folder on LIBRARY_PATH.
LINK=$(mktemp -d)
trap 'rm -rf "$LINK"' EXIT
for lib in "$T"/lib/lib*.so.* "$SITE"/nvidia/cudnn/lib/lib*.so.*; do
    base=$(basename "$lib")
    ln -sf "$lib" "$LINK/${base%%.so.*}.so"
done

export PATH="$T/bin:$PATH" CUDA_HOME="$T" CUDA_ROOT="$T"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${FAUVE_BUNDLE_TARGET:-${HOME:-/tmp}/.cache/fauve/cuda-bundle-target}
export LIBRARY_PATH="$LINK${LIBRARY_PATH:+:$LIBRARY_PATH}"

# The driver symbols: every cu[A-Z]* function cudarc's driver bindings declare (cuBLAS, cuRAND
# and cuDNN symbols are lower-case after `cu` and come from real libraries).
CUDARC=$(cargo metadata --locked --format-version 1 --features cudnn 2>/dev/null | "$VENV/bin/python" -c '
import json, os, sys
pkgs = json.load(sys.stdin)["packages"]
print(next(os.path.dirname(p["manifest_path"]) for p in pkgs if p["name"] == "cudarc"))')
grep -ohE '^pub unsafe fn cu[A-Z][A-Za-z0-9_]*' "$CUDARC"/src/driver/sys/*.rs | awk '{print $4}' | sort -u \
    | sed 's/.*/int &(void) { return 100; }/' >"$LINK/stub.c"
echo "gpu-bundle: driver stub with $(wc -l <"$LINK/stub.c") symbols"
gcc -shared -fPIC -Wl,-soname,libcuda.so.1 -o "$LINK/libcuda.so" "$LINK/stub.c"

# Built binaries go to target/gpu-bundle/<variant>/; the carried folder gpu-bundle/ holds them
# packed (they share candle's 45 MB of PTX, so one archive with a large dictionary packs five
# 52 MB binaries of each variant into about 10 MB) and the data beside them.
BUILT=target/gpu-bundle
OUT=gpu-bundle
for v in "${VARIANTS[@]}"; do
    echo "gpu-bundle: building with --features $v (sm_$CUDA_COMPUTE_CAP, nvcc $CUDA_VER)"
    rm -rf "${BUILT:?}/$v"
    mkdir -p "$BUILT/$v"
    # One cargo invocation builds the binaries and the test executables with one feature set
    # (two would unify features differently and compile candle's kernels twice).
    cargo build --locked --workspace --bins --tests --features "$v" --message-format=json-render-diagnostics \
        | "$VENV/bin/python" -c '
import json, sys
tests = {"fauve": "fauve-lib-tests", "it": "fauve-it-tests"}
bins = {"fauve-train", "fauve-infer", "fauve-bench"}
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") != "compiler-artifact" or not m.get("executable"):
        continue
    name, is_test = m["target"]["name"], m["profile"]["test"]
    if is_test and name in tests:
        print(tests[name], m["executable"])
    elif not is_test and name in bins:
        print(name, m["executable"])' \
        | while read -r name exe; do strip -o "$BUILT/$v/$name" "$exe"; done
    ls "$BUILT/$v"
done
mkdir -p "$OUT/data"
echo "gpu-bundle: packing $(ls "$BUILT" | tr '\n' ' ')"
tar cf - -C "$BUILT" . | xz --lzma2=preset=6,dict=256MiB -T1 >"$OUT/bins.tar.xz.partial"
mv "$OUT/bins.tar.xz.partial" "$OUT/bins.tar.xz"
cp models/vgg16.safetensors "$OUT/data/"
rm -rf "$OUT/data/photos"
cp -r data/photos "$OUT/data/photos"
cp data/styles/starry_night.jpg "$OUT/data/"
du -sh "$OUT"/*
echo "gpu-bundle: done; carry $OUT/ and run scripts/gpu-check.sh on the GPU machine"
