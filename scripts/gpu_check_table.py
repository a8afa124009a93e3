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

    out += ["| tests | parity vs PyTorch (max rel. L2, checks) | parity tests passed/failed | custom-op and unit tests passed/failed |",
            "|---|---|---|---|"]
    for r in rows:
        if r["name"].startswith("tests-"):
            pf, of = r["parity_passed_failed"], r["ops_passed_failed"]
            out.append(f"| {r['name'][6:]} | {fmt(r['parity_max_rel_l2'], '.1e')} ({r['parity_checks']}) "
                       f"| {pf[0]}/{pf[1]} | {of[0]}/{of[1]} |")
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
    out.append("")

    variants = sorted({r["name"].split("-")[1] for r in rows if r["name"].startswith("infer-")} - {"pytorch"})
    head = "| measurement | " + " | ".join(f"Fauve {v}" for v in variants) + " | PyTorch | " + \
        " | ".join(f"{v}/PyTorch" for v in variants) + " | rel. error vs PyTorch | peak GPU MiB (" + \
        ", ".join(variants + ["PyTorch"]) + ") |"
    out += [head, "|" + "---|" * (head.count("|") - 1)]
    keys = []
    for r in rows:
        for kind in ("infer", "train-step"):
            prefix = f"{kind}-pytorch-"
            if r["name"].startswith(prefix):
                keys.append((kind, r["name"][len(prefix):]))
    for kind, spec in keys:
        ref = by.get(f"{kind}-pytorch-{spec}", {})
        ours = [by.get(f"{kind}-{v}-{spec}", {}) for v in variants]
        if kind == "infer":
            label = f"inference {spec}, ms/image"
            val = lambda r: r.get("median_ms")
            ratio = lambda a, b: a / b if a and b else None
            err = ref.get("rel_l2_fauve_vs_pytorch")
        else:
            b, s = spec.split("x")
            label = f"training step, batch {b} at {s}px, images/s"
            val = lambda r: r.get("images_per_s")
            ratio = lambda a, b: b / a if a and b else None  # time ratio
            err = ref.get("loss_rel_err_fauve_vs_pytorch")
        cells = [fmt(val(r), ".2f") for r in ours] + [fmt(val(ref), ".2f")]
        cells += [fmt(ratio(val(r), val(ref)), ".2f") for r in ours]
        cells += [fmt(err, ".1e")]
        cells += [", ".join(fmt(r.get("gpu_peak_mib"), ".0f") for r in ours + [ref])]
        out.append(f"| {label} | " + " | ".join(cells) + " |")
    out += ["", "Ratios are Fauve time / PyTorch time (under 1 is faster). Training-step error: the worst "
            "relative difference of the content, style and total losses of the first two steps."]
    print("\n".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
