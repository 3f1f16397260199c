#!/usr/bin/env python3
"""Turns the JSON lines of bench-compare.sh (ring-attention bench and peer_numpy.py, one object a
line with a "round" key) into a CSV of every invocation and a Markdown table of medians over the
rounds, headed by the CPU model.

    bench_report.py RESULTS.jsonl OUT.csv OUT.md
"""

import csv
import datetime
import json
import statistics
import sys

COLUMNS = [
    "round", "tool", "seq", "head_dim", "heads", "kv_heads", "causal", "backward", "threads", "block_q",
    "block_kv", "kernels", "peer", "warmup", "warmup_runs", "reps", "seconds_median", "seconds_min", "seconds_max", "gflops",
    "gflops_best", "peak_fma_gflops", "peak_scalar_fma_gflops", "fraction_of_peak", "memory_estimate_bytes",
    "materialized_scores_bytes", "max_rss_bytes", "cpu", "processors", "java", "numpy", "blas", "backward_p",
    "blas_version", "blas_core", "blas_threads", "python_executable",
]
KEY = ("seq", "head_dim", "heads", "kv_heads", "causal", "backward", "threads")


def load(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_csv(rows, path):
    extra = sorted({k for r in rows for k in r} - set(COLUMNS) - {"seconds"})
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(COLUMNS + extra)
        for r in rows:
            w.writerow([cell(r.get(c)) for c in COLUMNS + extra])


def cell(v):
    """A CSV cell: JSON's spelling for null and booleans."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return v


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(x, digits=1):
    return "–" if x is None else f"{x:.{digits}f}"


def ratio(a, b, percent=False):
    if a is None or not b:
        return "–"
    return f"{100 * a / b:.1f} %" if percent else f"{a / b:.2f}"


def peer_description(peer):
    """NumPy, OpenBLAS version and core type the peer's processes loaded (read at run time by
    peer_numpy.py), every distinct one, with the Python that ran them."""
    seen = []
    for r in peer:
        kept = r.get("blas_env_kept")
        env = "BLAS environment not recorded" if kept is None else \
            "kept " + ", ".join(f"{k}={v}" for k, v in kept.items()) if kept else \
            "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE unset"
        d = (f"NumPy {r.get('numpy', '?')} with OpenBLAS {r.get('blas_version') or '?'}, core type"
             f" {r.get('blas_core') or '?'} ({r.get('python_executable') or 'python ?'}; {env})")
        if d not in seen:
            seen.append(d)
    return "; ".join(seen)


def write_markdown(rows, path):
    engine = [r for r in rows if r.get("tool") == "ring-attention"]
    peer = [r for r in rows if r.get("tool") == "numpy"]
    kept = [r for r in peer if r.get("backward_p") != "recomputed"]
    recomputed = [r for r in peer if r.get("backward_p") == "recomputed"]
    first = (engine or peer or [{}])[0]
    cpu = first.get("cpu", "unknown CPU")
    family = cpu_family()
    rounds = max((r.get("round", 1) for r in rows), default=0)
    lines = [f"# Attention benchmarks on {cpu}" + (f" (CPU family {family})" if family else ""), ""]
    facts = [f"{first.get('processors', '?')} processors"]
    if engine:
        facts.append(f"Java {engine[0].get('java', '?')}, engine kernels `{engine[0].get('kernels', '?')}`,"
                     f" blocks {engine[0].get('block_q', '?')}×{engine[0].get('block_kv', '?')}")
    if peer:
        facts.append(peer_description(peer))
    facts.append(f"{rounds} round(s), {datetime.date.today().isoformat()}")
    lines += ["; ".join(facts) + ".", ""]
    lines += [
        "GFLOP/s = 4·N²·d·H / seconds (half for causal, 2.5× for the backward pass, which alone is timed),"
        " from each invocation's median time, then the median over the rounds. Peak: vector FMA throughput"
        " on the same threads, measured in the engine's process (`FmaPeak`). NumPy materializes the N×N"
        " scores and computes the full matrix even when causal. Backward peers: *P kept* from the forward"
        " (as autograd keeps it), *P from LSE* recomputed from the saved log-sum-exp (one more product, as"
        " a fused kernel does).",
        "",
        "| N | d | H | mask | pass | threads | engine GFLOP/s | NumPy GFLOP/s (P kept) | NumPy GFLOP/s (P from"
        " LSE) | peak GFLOP/s | engine/peak | engine/NumPy | engine/NumPy (P from LSE) |",
        "|---:|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = []
    for r in rows:
        k = tuple(r.get(c) for c in KEY)
        if k not in keys:
            keys.append(k)
    for k in keys:
        def same(rs):
            return [r for r in rs if tuple(r.get(c) for c in KEY) == k]
        mine = same(engine)
        e = median([r.get("gflops") for r in mine])
        p = median([r.get("gflops") for r in same(kept)])
        p2 = median([r.get("gflops") for r in same(recomputed)])
        peak = median([r.get("peak_fma_gflops") for r in mine])
        seq, dim, heads, kv, causal, backward, threads = k
        h = f"{heads}" if kv in (None, heads) else f"{heads} (kv {kv})"
        lines.append(f"| {seq} | {dim} | {h} | {'causal' if causal else 'full'} |"
                     f" {'backward' if backward else 'forward'} | {threads} | {fmt(e, 2)} | {fmt(p, 2)} |"
                     f" {fmt(p2, 2)} | {fmt(peak)} | {ratio(e, peak, True)} | {ratio(e, p)} | {ratio(e, p2)} |")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def cpu_family():
    """The "cpu family" of /proc/cpuinfo (AMD Zen 4: 25, Zen 5: 26), or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "cpu family" and value.strip():
                    return value.strip()
    except OSError:
        pass
    return None


def main(argv):
    if len(argv) != 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    rows = load(argv[0])
    write_csv(rows, argv[1])
    write_markdown(rows, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
