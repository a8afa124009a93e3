#!/usr/bin/env bash
# One-command check of a CUDA build on a GPU machine (which has no Rust toolchain): run it there
# from the binaries that scripts/gpu-bundle.sh built here. It
#   1. runs the parity tests (PyTorch fixtures), the tiling and video tests and the
#      custom-op tests on the device;
#   2. trains briefly (the loss must fall), then interrupts-and-resumes the same run and
#      compares the two final models;
#   3. times inference (512x512 and 1920x1080) and the training step (batch 4 and 16 at
#      256x256) for Fauve and for PyTorch eager on the same weights and inputs (on the CPU also
#      ONNX Runtime, the slim network, and Fauve without Winograd convs), like with like:
#      strict f32 against PyTorch without TF32, Fauve with TF32 allowed against PyTorch's
#      default (TF32 in cuDNN), bf16 against autocast; with the relative error between them
#      and the peak GPU memory of each process;
#   4. prints per-op time tables (fauve-bench --profile) for the largest inference and the
#      first training spec;
#   5. repeats all this with the cuDNN build, if the bundle has one, and compares bf16
#      training with f32 training;
# and prints one table (also written to OUT/table.md, with every log beside it). It exits 1
# when any test, training run, resume or timing run failed (they are listed last), else 0.
#
# `--device cpu` runs the same sequence on the CPU at small sizes, from target/release.
#
# Usage: scripts/gpu-check.sh [--device cuda|cpu] [--bundle DIR] [--out DIR]
#                            [--only tests,timings,profile,train] [--variants cuda,cudnn]
set -uo pipefail
cd "$(dirname "$0")/.."

DEVICE=cuda
WANT_VARIANTS=cuda,cudnn
BUNDLE=gpu-bundle
OUTDIR=${OUT:-/tmp/fauve-gpu-check}
ONLY=tests,timings,profile,train
while [ $# -gt 0 ]; do
    case "$1" in
        --device) DEVICE=$2; shift 2 ;;
        --bundle) BUNDLE=$2; shift 2 ;;
        --out) OUTDIR=$2; shift 2 ;;
        --only) ONLY=$2; shift 2 ;;
        --variants) WANT_VARIANTS=$2; shift 2 ;;
        -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
        *) echo "gpu-check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$OUTDIR"
RESULTS="$OUTDIR/results.jsonl"
: >"$RESULTS"
PY=${PYTHON:-python3}
# Names of the checks that failed; any makes the exit status 1.
FAILURES=()
fail() { FAILURES+=("$1"); }
# Whether the last results row satisfies a Python expression over it (`r`).
last_row_ok() {
    $PY -c 'import json, sys; r = json.loads(sys.argv[2]); sys.exit(0 if eval(sys.argv[1]) else 1)' \
        "$1" "$(tail -1 "$RESULTS")"
}

if [ "$DEVICE" = cuda ]; then
    # shellcheck source=scripts/gpu-env.sh
    . scripts/gpu-env.sh
    VARIANTS=()
    IFS=, read -ra wanted <<<"$WANT_VARIANTS"
    for v in "${wanted[@]}"; do [ -x "$BINS/$v/fauve-bench" ] && VARIANTS+=("$v"); done
    [ ${#VARIANTS[@]} -gt 0 ] || { echo "gpu-check: no binaries under $BUNDLE/ (run scripts/gpu-bundle.sh here first)" >&2; exit 2; }
    DATA=$BUNDLE/data
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUTDIR/gpu.txt"
    INFER_SIZES=512,1080x1920
    TRAIN_SPECS=4x256,16x256
    WARMUP=5 RUNS=30 TRAIN_RUNS=10 TRAIN_SIZE=256 TRAIN_BATCH=4 TRAIN_STEPS=200
else
    VARIANTS=(cpu)
    DATA=data
    [ -x target/release/fauve-bench ] || cargo build --release --locked --bins
    # scripts/bench.sh sets these for the full CPU benchmark.
    INFER_SIZES=${FAUVE_BENCH_SIZES:-256}
    TRAIN_SPECS=${FAUVE_BENCH_TRAIN:-2x64}
    WARMUP=1 RUNS=${FAUVE_BENCH_RUNS:-3} TRAIN_RUNS=${FAUVE_BENCH_RUNS:-2}
    TRAIN_SIZE=64 TRAIN_BATCH=2 TRAIN_STEPS=20
    echo "cpu: $(nproc) cores" | tee "$OUTDIR/gpu.txt"
fi
VGG=$DATA/vgg16.safetensors
[ -f "$VGG" ] || VGG=models/vgg16.safetensors
STYLE=$DATA/starry_night.jpg
[ -f "$STYLE" ] || STYLE=data/styles/starry_night.jpg
bindir() { if [ "$1" = cpu ]; then echo target/release; else echo "$BINS/$1"; fi; }

# Records one result line: name, then key=value pairs (values as JSON).
record() {
    local name=$1; shift
    $PY - "$name" "$@" >>"$RESULTS" <<'PYEOF'
import json, sys
row = {"name": sys.argv[1]}
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        row[k] = json.loads(v)
    except ValueError:
        row[k] = v
print(json.dumps(row))
PYEOF
}

# Runs a command that prints one JSON line, polling the GPU's memory meanwhile; appends the
# line with `name`, `gpu_peak_mib` (above the idle level) and `rc` to the results.
measure() {
    local name=$1; shift
    local mem="$OUTDIR/$name.mem" poll=""
    if [ "$DEVICE" = cuda ]; then
        local idle
        idle=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits | head -1)
        nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 20 >"$mem" &
        poll=$!
    fi
    "$@" >"$OUTDIR/$name.json" 2>"$OUTDIR/$name.log"
    local rc=$?
    local peak=null
    if [ -n "$poll" ]; then
        kill "$poll" 2>/dev/null; wait "$poll" 2>/dev/null
        peak=$(sort -n "$mem" | tail -1)
        peak=$((peak - idle))
    fi
    $PY - "$name" "$rc" "$peak" "$OUTDIR/$name.json" >>"$RESULTS" <<'PYEOF'
import json, sys
name, rc, peak, path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
lines = [l for l in open(path) if l.strip().startswith("{")]
row = json.loads(lines[-1]) if lines else {}
row.update(name=name, rc=rc, gpu_peak_mib=json.loads(peak))
print(json.dumps(row))
PYEOF
    tail -1 "$OUTDIR/$name.json" 2>/dev/null
    [ $rc -eq 0 ] || { echo "gpu-check: $name failed (rc $rc); log:"; tail -20 "$OUTDIR/$name.log"; fail "$name"; }
    return $rc
}

# 1. Parity and custom-op tests on the device.
tests_on_device() {
    local v=$1 dir
    dir=$(bindir "$v")
    local tdev=$DEVICE
    if [ "$v" = cpu ]; then
        # The CPU half runs the same test binaries through cargo.
        FAUVE_TEST_DEVICE=cpu cargo test --locked -p fauve-tests --test it -- parity tiling sequence --nocapture \
            >"$OUTDIR/parity-$v.log" 2>&1
        local rc1=$?
        FAUVE_TEST_DEVICE=cpu cargo test --locked -p fauve --lib >"$OUTDIR/ops-$v.log" 2>&1
        local rc2=$?
    else
        FAUVE_TEST_DEVICE=$tdev "$dir/fauve-it-tests" parity tiling sequence --include-ignored --nocapture >"$OUTDIR/parity-$v.log" 2>&1
        local rc1=$?
        # The op tests compare with candle's own convolutions, which in the cudnn build let
        # cuDNN pick TF32: the override keeps those references strict f32. (The parity tests
        # above run without it: their references are PyTorch's float64 fixtures.)
        NVIDIA_TF32_OVERRIDE=0 FAUVE_TEST_DEVICE=$tdev "$dir/fauve-lib-tests" --include-ignored >"$OUTDIR/ops-$v.log" 2>&1
        local rc2=$?
    fi
    $PY - "$v" "$rc1" "$rc2" "$OUTDIR/parity-$v.log" "$OUTDIR/ops-$v.log" >>"$RESULTS" <<'PYEOF'
import json, re, sys
v, rc1, rc2, plog, olog = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
found = re.findall(r"parity: (.*): relative L2 error ([0-9.e+-]+)", open(plog).read())
errs = [float(e) for what, e in found if "bf16" not in what]
bf16 = [float(e) for what, e in found if "bf16" in what]
def counts(path):
    m = re.findall(r"test result: \w+\. (\d+) passed; (\d+) failed", open(path).read())
    return [sum(int(a) for a, _ in m), sum(int(b) for _, b in m)]
print(json.dumps({"name": f"tests-{v}", "parity_rc": rc1, "ops_rc": rc2,
                  "parity_max_rel_l2": max(errs) if errs else None, "parity_checks": len(errs),
                  "bf16_max_rel_l2": max(bf16) if bf16 else None,
                  "parity_passed_failed": counts(plog), "ops_passed_failed": counts(olog)}))
PYEOF
    tail -1 "$RESULTS"
    [ "$rc1" -eq 0 ] || fail "parity tests ($v)"
    [ "$rc2" -eq 0 ] || fail "library tests ($v)"
}

# 2. A short training run (f32 and, on CUDA, bf16 on the same batches), and the f32 run
#    interrupted halfway and resumed.
train_and_resume() {
    local v=$1 dir
    dir=$(bindir "$v")
    local common=(--config configs/demo.toml --data-dir "$DATA/photos" --style-image "$STYLE"
                  --vgg "$VGG" --device "$DEVICE" --image-size "$TRAIN_SIZE" --batch-size "$TRAIN_BATCH"
                  --log-every 5 --sample-every 0 --checkpoint-every $((TRAIN_STEPS / 2)) --workers 4
                  --lr 1e-3)
    rm -rf "$OUTDIR/train-$v" "$OUTDIR/resume-$v" "$OUTDIR/bf16-$v" "$OUTDIR/f32lr-$v" "$OUTDIR/bf16lr-$v"
    "$dir/fauve-train" "${common[@]}" --steps $TRAIN_STEPS --run-dir "$OUTDIR/train-$v" >"$OUTDIR/train-$v.log" 2>&1
    local rc1=$?
    "$dir/fauve-train" "${common[@]}" --steps $((TRAIN_STEPS / 2)) --run-dir "$OUTDIR/resume-$v" >"$OUTDIR/resume-$v.log" 2>&1 \
        && "$dir/fauve-train" --resume "$OUTDIR/resume-$v" --steps $TRAIN_STEPS >>"$OUTDIR/resume-$v.log" 2>&1
    local rc2=$?
    local rc3=null
    if [ "$DEVICE" = cuda ]; then
        "$dir/fauve-train" "${common[@]}" --steps $TRAIN_STEPS --precision bf16 --run-dir "$OUTDIR/bf16-$v" \
            >"$OUTDIR/bf16-$v.log" 2>&1
        rc3=$?
        # The noise floor of that comparison: f32 again with the learning rate changed in the
        # seventh digit, and bf16 likewise.
        "$dir/fauve-train" "${common[@]}" --steps $TRAIN_STEPS --lr 1.000001e-3 --run-dir "$OUTDIR/f32lr-$v" \
            >"$OUTDIR/f32lr-$v.log" 2>&1
        "$dir/fauve-train" "${common[@]}" --steps $TRAIN_STEPS --lr 1.000001e-3 --precision bf16 \
            --run-dir "$OUTDIR/bf16lr-$v" >"$OUTDIR/bf16lr-$v.log" 2>&1
    fi
    # Every final model scored by the same f32 loss network on the same photos (a bf16 run's
    # logged losses come from its own bf16 loss network). CUDA only, where bf16 runs.
    if [ "$DEVICE" = cuda ]; then
        $PY - "$DATA/photos" "$STYLE" "$OUTDIR/eval-batch.safetensors" "$TRAIN_SIZE" <<'PYEOF3'
import os, sys
import numpy as np
from PIL import Image
from safetensors.numpy import save_file
photos, style, out, size = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def crop(path):
    im = Image.open(path).convert("RGB")
    s = size / min(im.size)
    im = im.resize((max(size, round(im.width * s)), max(size, round(im.height * s))), Image.BILINEAR)
    l, t = (im.width - size) // 2, (im.height - size) // 2
    return np.asarray(im.crop((l, t, l + size, t + size)), dtype=np.float32).transpose(2, 0, 1)
names = sorted(os.listdir(photos))[:8]
content = np.stack([crop(os.path.join(photos, n)) for n in names])
st = np.asarray(Image.open(style).convert("RGB"), dtype=np.float32).transpose(2, 0, 1)[None]
save_file({"content": np.ascontiguousarray(content), "style": np.ascontiguousarray(st)}, out)
PYEOF3
        for run in train resume bf16 f32lr bf16lr; do
            [ -f "$OUTDIR/$run-$v/model.safetensors" ] || continue
            "$dir/fauve-bench" train-step --weights "$OUTDIR/$run-$v/model.safetensors" --vgg "$VGG" \
                --batch "$OUTDIR/eval-batch.safetensors" --device "$DEVICE" --warmup 0 --runs 1 \
                >"$OUTDIR/eval-$run-$v.json" 2>"$OUTDIR/eval-$run-$v.log"
        done
    fi
    $PY - "$v" "$rc1" "$rc2" "$rc3" "$OUTDIR" "$TRAIN_STEPS" >>"$RESULTS" <<'PYEOF2'
import json, os, re, sys
v, rc1, rc2, rc3, out, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5], int(sys.argv[6])
row = {"name": f"train-{v}", "steps": steps, "train_rc": rc1, "resume_rc": rc2, "bf16_rc": rc3}
def totals(name):
    path = os.path.join(out, f"{name}.log")
    return [float(x) for x in re.findall(r"total ([0-9.e+-]+)", open(path).read())] if os.path.exists(path) else []
t = totals(f"train-{v}")
ips = [float(x) for x in re.findall(r"([0-9.]+) img/s", open(os.path.join(out, f"train-{v}.log")).read())]
if t:
    row.update(first_total=t[0], last_total=t[-1], loss_fell=t[-1] < t[0])
if ips:
    row["images_per_s_last"] = ips[-1]
b = totals(f"bf16-{v}")
if t and b and len(b) == len(t):
    # The last five logged steps (the same batches in both runs), averaged.
    f32_end, bf16_end = sum(t[-5:]) / 5, sum(b[-5:]) / 5
    row.update(f32_final=f32_end, bf16_final=bf16_end, bf16_rel_diff=abs(bf16_end - f32_end) / f32_end)
def evaluated(run):
    path = os.path.join(out, f"eval-{run}-{v}.json")
    lines = [l for l in open(path) if l.startswith("{")] if os.path.exists(path) else []
    return json.loads(lines[-1])["losses_content_style_total"][0][2] if lines else None
row["eval_total"] = {run: evaluated(run) for run in ("train", "f32lr", "bf16", "bf16lr")}
for other in ("f32lr", "bf16lr"):
    o = totals(f"{other}-{v}")
    if t and o and len(o) == len(t):
        row[f"{other}_final"] = sum(o[-5:]) / 5
a, r = (os.path.join(out, d, "model.safetensors") for d in (f"train-{v}", f"resume-{v}"))
if os.path.exists(a) and os.path.exists(r):
    import numpy as np
    from safetensors.numpy import load_file
    ta, tb = load_file(a), load_file(r)
    row["resume_max_rel_diff"] = max(
        float(np.linalg.norm(ta[k].astype(np.float64) - tb[k]) / max(np.linalg.norm(ta[k].astype(np.float64)), 1e-30))
        for k in ta)
    row["resume_bit_identical"] = all(np.array_equal(ta[k], tb[k]) for k in ta)
print(json.dumps(row))
PYEOF2
    tail -1 "$RESULTS"
    [ "$rc1" -eq 0 ] || fail "training run ($v)"
    [ "$rc2" -eq 0 ] || fail "interrupted and resumed run ($v)"
    [ "$rc3" = null ] || [ "$rc3" -eq 0 ] || fail "bf16 training run ($v)"
    last_row_ok 'r.get("loss_fell") is True' || fail "training loss did not fall ($v)"
    last_row_ok 'r.get("resume_bit_identical") is True' || fail "resumed model differs from the uninterrupted one ($v)"
}

# 3. Timings beside PyTorch on the same inputs.
REF="$OUTDIR/inputs"
$PY scripts/bench_reference.py prepare --dir "$REF" --infer-sizes "$INFER_SIZES" --train "$TRAIN_SPECS" \
    >"$OUTDIR/prepare.log" 2>&1 || { echo "gpu-check: preparing inputs failed:"; cat "$OUTDIR/prepare.log"; exit 1; }

# On the CPU, beside each inference size: the same network with 3x3 convs as im2col + GEMM
# instead of Winograd (variant cpu_im2col), and the slim network (spec slimS) in Fauve, PyTorch
# and ONNX Runtime.
cpu_extras() {
    local dir=$1 s=$2; shift 2
    local threads=("$@")
    measure "infer-cpu_im2col-$s" "$dir/fauve-bench" infer --weights "$REF/weights.safetensors" \
        --input "$REF/infer_$s.safetensors" --device cpu --warmup $WARMUP --runs $RUNS --no-winograd
    measure "infer-cpu-slim$s" "$dir/fauve-bench" infer --weights "$REF/weights_slim.safetensors" \
        --input "$REF/infer_$s.safetensors" --output "$OUTDIR/out-slim-$s.safetensors" \
        --device cpu --warmup $WARMUP --runs $RUNS
    measure "infer-pytorch-slim$s" $PY scripts/bench_reference.py infer --dir "$REF" --size "$s" \
        --weights weights_slim.safetensors --device cpu "${threads[@]}" --warmup $WARMUP \
        --runs $RUNS --fauve-output "$OUTDIR/out-slim-$s.safetensors"
    if $PY -c 'import onnxruntime' 2>/dev/null; then
        measure "infer-onnxruntime-slim$s" $PY scripts/bench_reference.py ort-infer --dir "$REF" \
            --size "$s" --weights weights_slim.safetensors "${threads[@]}" --warmup $WARMUP \
            --runs $RUNS --fauve-output "$OUTDIR/out-slim-$s.safetensors"
    fi
}

timings() {
    local v=$1 dir
    dir=$(bindir "$v")
    local threads=()
    [ "$DEVICE" = cpu ] && threads=(--threads "$(nproc)")
    IFS=, read -ra sizes <<<"$INFER_SIZES"
    for s in "${sizes[@]}"; do
        measure "infer-$v-$s" "$dir/fauve-bench" infer --weights "$REF/weights.safetensors" \
            --input "$REF/infer_$s.safetensors" --output "$OUTDIR/out-$v-$s.safetensors" \
            --device "$DEVICE" --warmup $WARMUP --runs $RUNS
        if [ "$DEVICE" = cuda ]; then
            measure "infer-${v}_tf32-$s" "$dir/fauve-bench" infer --weights "$REF/weights.safetensors" \
                --input "$REF/infer_$s.safetensors" --device "$DEVICE" --warmup $WARMUP --runs $RUNS --tf32
            measure "infer-${v}_bf16-$s" "$dir/fauve-bench" infer --weights "$REF/weights.safetensors" \
                --input "$REF/infer_$s.safetensors" --output "$OUTDIR/out-${v}_bf16-$s.safetensors" \
                --device "$DEVICE" --warmup $WARMUP --runs $RUNS --precision bf16
        fi
        [ "$v" = "${VARIANTS[0]}" ] || continue
        measure "infer-pytorch-$s" $PY scripts/bench_reference.py infer --dir "$REF" --size "$s" \
            --device "$DEVICE" "${threads[@]}" --warmup $WARMUP --runs $RUNS \
            --fauve-output "$OUTDIR/out-$v-$s.safetensors"
        if [ "$DEVICE" = cuda ]; then
            # Like with like: strict f32 (no TF32 anywhere) and bf16 autocast.
            measure "infer-pytorch_f32-$s" $PY scripts/bench_reference.py infer --dir "$REF" --size "$s" \
                --device "$DEVICE" --warmup $WARMUP --runs $RUNS --precision f32 \
                --fauve-output "$OUTDIR/out-$v-$s.safetensors"
            measure "infer-pytorch_bf16-$s" $PY scripts/bench_reference.py infer --dir "$REF" --size "$s" \
                --device "$DEVICE" --warmup $WARMUP --runs $RUNS --precision bf16
        fi
        if [ "$DEVICE" = cpu ] && $PY -c 'import onnxruntime' 2>/dev/null; then
            measure "infer-onnxruntime-$s" $PY scripts/bench_reference.py ort-infer --dir "$REF" --size "$s" \
                "${threads[@]}" --warmup $WARMUP --runs $RUNS --fauve-output "$OUTDIR/out-$v-$s.safetensors"
        fi
        [ "$DEVICE" = cpu ] && cpu_extras "$dir" "$s" "${threads[@]}"
    done
    IFS=, read -ra specs <<<"$TRAIN_SPECS"
    for b in "${specs[@]}"; do
        measure "train-step-$v-$b" "$dir/fauve-bench" train-step --weights "$REF/weights.safetensors" \
            --vgg "$VGG" --batch "$REF/batch_$b.safetensors" --content-weight 30 --style-weight 800 \
            --device "$DEVICE" --warmup 3 --runs $TRAIN_RUNS
        if [ "$DEVICE" = cpu ]; then
            measure "train-step-cpu_im2col-$b" "$dir/fauve-bench" train-step \
                --weights "$REF/weights.safetensors" --vgg "$VGG" --batch "$REF/batch_$b.safetensors" \
                --content-weight 30 --style-weight 800 --device cpu --warmup 3 --runs $TRAIN_RUNS \
                --no-winograd
        fi
        if [ "$DEVICE" = cuda ]; then
            measure "train-step-${v}_tf32-$b" "$dir/fauve-bench" train-step --weights "$REF/weights.safetensors" \
                --vgg "$VGG" --batch "$REF/batch_$b.safetensors" --content-weight 30 --style-weight 800 \
                --device "$DEVICE" --warmup 3 --runs $TRAIN_RUNS --tf32
            measure "train-step-${v}_bf16-$b" "$dir/fauve-bench" train-step --weights "$REF/weights.safetensors" \
                --vgg "$VGG" --batch "$REF/batch_$b.safetensors" --content-weight 30 --style-weight 800 \
                --device "$DEVICE" --warmup 3 --runs $TRAIN_RUNS --precision bf16
        fi
        [ "$v" = "${VARIANTS[0]}" ] || continue
        measure "train-step-pytorch-$b" $PY scripts/bench_reference.py train-step --dir "$REF" \
            --batch "$b" --vgg "$VGG" --device "$DEVICE" "${threads[@]}" --warmup 3 --runs $TRAIN_RUNS \
            --fauve-losses "$(tail -1 "$OUTDIR/train-step-$v-$b.json")"
        if [ "$DEVICE" = cuda ]; then
            measure "train-step-pytorch_f32-$b" $PY scripts/bench_reference.py train-step --dir "$REF" \
                --batch "$b" --vgg "$VGG" --device "$DEVICE" --warmup 3 --runs $TRAIN_RUNS --precision f32 \
                --fauve-losses "$(tail -1 "$OUTDIR/train-step-$v-$b.json")"
            measure "train-step-pytorch_bf16-$b" $PY scripts/bench_reference.py train-step --dir "$REF" \
                --batch "$b" --vgg "$VGG" --device "$DEVICE" --warmup 3 --runs $TRAIN_RUNS --precision bf16
        fi
    done
}

# 4. Where the time goes: per-op tables (fauve-bench --profile) for the largest inference and
#    the first training spec, strict f32; the tables are in OUT/profile-*.log.
profiles() {
    local v=$1 dir
    dir=$(bindir "$v")
    IFS=, read -ra sizes <<<"$INFER_SIZES"
    local s=${sizes[${#sizes[@]}-1]}
    measure "profile-infer-$v-$s" "$dir/fauve-bench" infer --weights "$REF/weights.safetensors" \
        --input "$REF/infer_$s.safetensors" --device "$DEVICE" --warmup 1 --runs 3 --profile
    IFS=, read -ra specs <<<"$TRAIN_SPECS"
    local b=${specs[0]}
    measure "profile-train-step-$v-$b" "$dir/fauve-bench" train-step --weights "$REF/weights.safetensors" \
        --vgg "$VGG" --batch "$REF/batch_$b.safetensors" --content-weight 30 --style-weight 800 \
        --device "$DEVICE" --warmup 2 --runs 3 --profile
    last_row_ok 'r.get("profile") is not None' || fail "no profile table ($v)"
}

want() { [[ ",$ONLY," == *",$1,"* ]]; }
for v in "${VARIANTS[@]}"; do
    if want tests; then
        echo "== $v: tests on $DEVICE"
        tests_on_device "$v"
    fi
    if want timings; then
        echo "== $v: timings"
        timings "$v"
    fi
    if want profile; then
        echo "== $v: per-op profile"
        profiles "$v"
    fi
    if want train && [ "$v" = "${VARIANTS[0]}" ]; then
        echo "== $v: training and resume"
        train_and_resume "$v"
    fi
done
if want tests && [ "$DEVICE" = cuda ]; then
    # PyTorch's own bf16 error on the parity test's case, beside Fauve's.
    $PY scripts/bench_reference.py bf16-error --device cuda >"$OUTDIR/bf16-error.json" 2>"$OUTDIR/bf16-error.log" \
        && record bf16-error-pytorch "row=$(tail -1 "$OUTDIR/bf16-error.json")"
fi

echo
$PY scripts/gpu_check_table.py "$RESULTS" "$OUTDIR/gpu.txt" | tee "$OUTDIR/table.md" \
    || fail "the results table"
if [ ${#FAILURES[@]} -gt 0 ]; then
    echo
    echo "gpu-check: FAILED (${#FAILURES[@]}):"
    printf '  - %s\n' "${FAILURES[@]}"
    exit 1
fi
echo "gpu-check: all checks passed"
