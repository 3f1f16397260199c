#!/usr/bin/env python3
"""Converts a JMH CSV result file (-rf csv) into a Markdown table headed by the CPU model, adding
GFLOP/s for the attention benchmarks (4*seq^2*dim*heads per forward pass, half when causal, 2.5
times for the backward pass) and for FmaPeakBenchmark's :flops counter.

    jmh_csv_to_md.py RESULTS.csv OUT.md [--java VERSION] [--args "JMH ARGUMENTS"]
"""

import argparse
import csv
import datetime

SECONDS_PER = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return "unknown CPU"


def attention_flops(n, d, h, causal, backward):
    """The FLOPs of one attention pass: 4*N^2*d*H, half when causal, 2.5 times for the backward
    pass. This script's one copy of the formula of benchkit's AttentionFlops (the reference)."""
    return 4.0 * n * n * d * h * (0.5 if causal else 1.0) * (2.5 if backward else 1.0)


def gflops(name, unit, score, params):
    """GFLOP/s for a result row, or None."""
    if name.endswith(":flops") and unit.startswith("ops/"):
        return score / SECONDS_PER.get(unit[4:], float("nan")) / 1e9
    if not unit.endswith("/op") or unit[:-3] not in SECONDS_PER or ":" in name:
        return None
    if "KernelBenchmark" in name:
        # one tile: block x block x dim multiply-adds for the products; exp has no FMA count
        if name.endswith(".expShifted"):
            return None
        try:
            b, d = int(params["block"]), int(params["dim"])
        except (KeyError, ValueError):
            return None
        seconds = score * SECONDS_PER[unit[:-3]]
        return 2.0 * b * b * d / seconds / 1e9 if seconds > 0 else None
    if not any(b in name for b in ("BlockwiseForward", "BlockwiseBackward", "VanillaFloat32")):
        return None
    try:
        n, d = int(params["seq"]), int(params["dim"])
    except (KeyError, ValueError):
        return None
    h = int(params.get("heads", 1) or 1)
    flops = attention_flops(n, d, h, params.get("causal") == "true", "Backward" in name)
    seconds = score * SECONDS_PER[unit[:-3]]
    return flops / seconds / 1e9 if seconds > 0 else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("csv")
    ap.add_argument("md")
    ap.add_argument("--java", default="")
    ap.add_argument("--args", default="")
    a = ap.parse_args()
    with open(a.csv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    param_names = []
    for r in rows:
        for k in r:
            if k.startswith("Param: ") and k[7:] not in param_names:
                param_names.append(k[7:])
    lines = [f"# JMH results on {cpu_model()}", ""]
    facts = [datetime.date.today().isoformat()]
    if a.java:
        facts.append(f"Java {a.java}")
    if a.args:
        facts.append(f"arguments `{a.args}`")
    lines += ["; ".join(facts) + ".", ""]
    lines += ["GFLOP/s: 4·seq²·dim·heads per forward pass / seconds (half when causal, 2.5× for the backward"
              " pass); KernelBenchmark products: 2·block²·dim per call / seconds; FmaPeakBenchmark's `:flops` rows"
              " are the FMA ceiling in GFLOP/s.", ""]
    order = ["seq", "dim", "heads", "causal", "blockQ", "blockKv", "threads", "kernels"]
    param_names.sort(key=lambda p: (order.index(p) if p in order else len(order), p))
    header = ["benchmark", "mode", "JMH threads", "samples", "score", "± error (99.9%)", "unit", "GFLOP/s"] + param_names
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join(["---", "---", "---:", "---:", "---:", "---:", "---", "---:"]
                                + ["---"] * len(param_names)) + "|")
    for r in rows:
        name = r["Benchmark"].rsplit(".", 2)
        short = ".".join(name[-2:]) if len(name) >= 2 else r["Benchmark"]
        params = {p: r.get("Param: " + p, "") for p in param_names}
        try:
            score = float(r["Score"])
        except ValueError:
            score = float("nan")
        error = r.get("Score Error (99.9%)", "")
        try:
            error = "" if error.lower() == "nan" else f"{float(error):.4g}"
        except ValueError:
            pass
        g = gflops(r["Benchmark"], r["Unit"], score, params)
        cells = [short, r["Mode"], r["Threads"], r["Samples"], f"{score:.4g}", error, r["Unit"],
                 "" if g is None else f"{g:.2f}"] + [params[p] for p in param_names]
        lines.append("| " + " | ".join(cells) + " |")
    with open(a.md, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
