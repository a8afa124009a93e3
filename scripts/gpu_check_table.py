#!/usr/bin/env python3
"""Turns scripts/gpu-check.sh's results.jsonl into the Markdown table it prints."""

import json
import sys


def fmt(x, spec=".1f"):
    return "-" if x is None else format(x, spec)


def main(results_path, machine_path):
    rows = [json.loads(line) for line in open(results_path) if line.strip()]
    by = {r["name"]: r for r in rows}
    machine = open(machine_path).read().strip()
    out = [f"Machine: {machine}", ""]

    for r in rows:
        if r["name"] == "bf16-error-pytorch" and isinstance(r.get("row"), dict):
            b = r["row"]
            out.append(f"PyTorch bf16 autocast on the parity case: output {b['output_rel_l2_vs_f32']:.2e}, "
                       f"res3.conv1 weight gradient {b['grad_rel_l2_vs_f32']:.2e} relative L2 from its f32.")
            out.append("")
    out += ["| tests | f32 parity vs PyTorch (max rel. L2, checks) | bf16 checks (max rel. L2) | parity tests passed/failed | custom-op and unit tests passed/failed |",
            "|---|---|---|---|---|"]
    for r in rows:
        if r["name"].startswith("tests-"):
            pf, of = r["parity_passed_failed"], r["ops_passed_failed"]
            out.append(f"| {r['name'][6:]} | {fmt(r['parity_max_rel_l2'], '.1e')} ({r['parity_checks']}) "
                       f"| {fmt(r.get('bf16_max_rel_l2'), '.1e')} | {pf[0]}/{pf[1]} | {of[0]}/{of[1]} |")
    out.append("")

    for r in rows:
        if r["name"].startswith("train-") and "train_rc" in r:
            out.append(f"Training ({r['name'][6:]}, {r['steps']} steps): exit {r['train_rc']}, total loss "
                       f"{fmt(r.get('first_total'), '.4g')} -> {fmt(r.get('last_total'), '.4g')} "
                       f"(fell: {r.get('loss_fell')}), {fmt(r.get('images_per_s_last'), '.1f')} img/s at the end.")
            out.append(f"Interrupted halfway and resumed: exit {r['resume_rc']}, final weights bit-identical: "
                       f"{r.get('resume_bit_identical')}, max relative difference {fmt(r.get('resume_max_rel_diff'), '.1e')}.")
            if r.get("bf16_rc") is not None:
                out.append(f"bf16 run on the same batches: exit {r['bf16_rc']}, final loss (mean of the last five "
                           f"logged steps) {fmt(r.get('bf16_final'), '.4g')} vs f32 {fmt(r.get('f32_final'), '.4g')}: "
                           f"{fmt(100 * r['bf16_rel_diff'] if r.get('bf16_rel_diff') is not None else None, '.2f')}% apart (bound 2%).")
            if r.get("f32lr_final") is not None and r.get("f32_final"):
                f32, f32lr, bf16lr = r["f32_final"], r["f32lr_final"], r.get("bf16lr_final")
                spread = [f32, f32lr] + ([r["bf16_final"]] if r.get("bf16_final") else []) + ([bf16lr] if bf16lr else [])
                out.append(f"Noise floor: f32 with lr changed in the 7th digit ends at {f32lr:.4g} "
                           f"({100 * abs(f32lr - f32) / f32:.2f}% from f32); bf16 likewise at {fmt(bf16lr, '.4g')}. "
                           f"All four runs: {min(spread):.4g} to {max(spread):.4g}.")
            ev = r.get("eval_total") or {}
            if ev.get("train") and ev.get("bf16"):
                f32s = [x for x in (ev.get("train"), ev.get("f32lr")) if x]
                bf16s = [x for x in (ev.get("bf16"), ev.get("bf16lr")) if x]
                f32m, bfm = sum(f32s) / len(f32s), sum(bf16s) / len(bf16s)
                out.append(f"Final models scored by the same f32 loss network on 8 sample photos: f32 runs "
                           f"{', '.join(f'{x:.4g}' for x in f32s)}; bf16 runs {', '.join(f'{x:.4g}' for x in bf16s)}: "
                           f"bf16 {100 * (bfm - f32m) / f32m:+.2f}% from f32 (bound 2%).")
    out.append("")

    variants = sorted({r["name"].split("-")[1] for r in rows if r["name"].startswith("infer-")}
                      - {"pytorch", "pytorch_f32", "pytorch_bf16", "onnxruntime"})
    out += ["| measurement | implementation | result | time vs PyTorch | rel. error vs PyTorch | peak memory MiB |",
            "|---|---|---|---|---|---|"]
    keys = []
    for r in rows:
        for kind in ("infer", "train-step"):
            prefix = f"{kind}-pytorch-"
            if r["name"].startswith(prefix):
                keys.append((kind, r["name"][len(prefix):]))
    for kind, spec in keys:
        ref = by.get(f"{kind}-pytorch-{spec}", {})
        if kind == "infer":
            label, unit = f"inference {spec}", "ms/image"
            if spec.startswith("slim"):
                label = f"inference {spec[4:]}, slim network"
            val = lambda r: r.get("median_ms")
            ratio = lambda a, b: a / b if a and b else None
            err = ref.get("rel_l2_fauve_vs_pytorch")
        else:
            b, s_ = spec.split("x")
            label, unit = f"training step, batch {b} at {s_}px", "images/s"
            val = lambda r: r.get("images_per_s")
            ratio = lambda a, b: b / a if a and b else None  # time ratio
            err = ref.get("loss_rel_err_fauve_vs_pytorch")
        # PyTorch under each precision; each Fauve variant is timed against its like:
        # `_tf32` against PyTorch's default (TF32 in cuDNN), `_bf16` against autocast, plain
        # (strict f32) against PyTorch without TF32, where those were measured.
        refs = {"": ref, "_f32": by.get(f"{kind}-pytorch_f32-{spec}"),
                "_bf16": by.get(f"{kind}-pytorch_bf16-{spec}")}
        impls = [("PyTorch eager", ref)]
        if refs["_f32"]:
            impls.append(("PyTorch eager, no TF32", refs["_f32"]))
        if refs["_bf16"]:
            impls.append(("PyTorch eager, bf16 autocast", refs["_bf16"]))
        ort = by.get(f"{kind}-onnxruntime-{spec}")
        if ort:
            impls.append(("ONNX Runtime", ort))
        impls += [(f"Fauve {v}", by[f"{kind}-{v}-{spec}"]) for v in variants
                  if f"{kind}-{v}-{spec}" in by]

        def like(name):
            if name.endswith("_tf32"):
                return ref
            if name.endswith("_bf16"):
                return refs["_bf16"] or ref
            return refs["_f32"] or ref

        for i, (name, r) in enumerate(impls):
            rel = ""
            if name == f"Fauve {variants[0]}":
                rel = fmt(err, ".1e")
                f32_err = (refs["_f32"] or {}).get("rel_l2_fauve_vs_pytorch")
                if f32_err is not None:
                    rel += f" ({f32_err:.1e} vs no TF32)"
            elif name == "ONNX Runtime":
                rel = fmt(r.get("rel_l2_fauve_vs_onnxruntime"), ".1e") + " (vs Fauve)"
            if name.startswith("PyTorch"):
                time_vs = "1" if i == 0 else fmt(ratio(val(r), val(ref)), ".2f")
            else:
                time_vs = fmt(ratio(val(r), val(like(name))), ".2f")
            if ort and name.startswith("Fauve"):
                time_vs += f" ({fmt(ratio(val(r), val(ort)), '.2f')} vs ORT)"
            mem = r.get("gpu_peak_mib")
            mem = fmt(mem, ".0f") if mem is not None else fmt(r.get("peak_rss_mib"), ".0f") + " (RSS)"
            cells = [label if i == 0 else "", name, f"{fmt(val(r), '.2f')} {unit}", time_vs, rel, mem]
            out.append("| " + " | ".join(cells) + " |")
    out += ["", "Time vs PyTorch: Fauve's time over that of PyTorch at the same precision (under 1 is faster): "
            "plain variants against PyTorch without TF32 (where measured), `_tf32` (fauve::allow_tf32: cuDNN "
            "and cuBLAS may use TF32) against PyTorch's default, `_bf16` (precision = bf16) against autocast. "
            "PyTorch rows: against PyTorch's default. Variants: `cpu` (Fauve's CPU kernels, 3x3 stride-1 "
            "convs by Winograd F(2x2, 3x3)), `cpu_im2col` (the same with those convs as im2col + GEMM), "
            "`cuda` (candle's convolutions, Fauve's "
            "instance-norm kernels), `cudnn` (Fauve's own cuDNN convolutions). Rel. error: the first Fauve "
            "variant's output against PyTorch's (inference), or the worst relative difference of the content, "
            "style and total losses of the first two steps (training)."]
    for r in rows:
        prof = r.get("profile") if r["name"].startswith("profile-") else None
        if not prof:
            continue
        run = prof["profiled_run_ms"]
        out += ["", f"Per-op time, {r['name'][8:]} (fauve-bench --profile; {run:.2f} ms per profiled run):", "",
                "| op (phase) | ms per run | calls per run | share |", "|---|---|---|---|"]
        ops = sorted(prof["ops"].items(), key=lambda kv: -kv[1]["ms"])
        for name, t in ops:
            out.append(f"| {name} | {t['ms']:.3f} | {t['calls']:.0f} | {100 * t['ms'] / run:.1f}% |")
        out.append(f"| other (candle ops, launch gaps) | {prof['other_ms']:.3f} | | "
                   f"{100 * prof['other_ms'] / run:.1f}% |")
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
