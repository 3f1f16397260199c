#!/usr/bin/env python3
"""ring_bench.py: the ring targets of issue 5, measured with `ring-attention bench`, interleaved and
repeated in rounds; medians over the rounds go into a Markdown table headed by the CPU model.

    scripts/ring_bench.py             # default set, 3 rounds (about 5 minutes)
    scripts/ring_bench.py --quick     # smoke run (small sizes, 1 round)

Runs (N = 8192, d = 128, H = 2, 2 threads unless --quick):
  p1            blockwise, one device: the reference time
  p4            ring, 4 devices sharing the 2 threads, contiguous layout       target <= 1.05x p1
  p4-causal-*   causal, 4 devices, each layout: imbalance (max/mean pairs)      target zigzag <= 1.05
  p4-link-ok    4 devices, simulated link of 100 MB/s + 1 ms: the paper's condition holds
                (a hop of 4 MiB takes about 43 ms, a step computes for about 120 ms)  target overlap >= 90%
  p4-link-slow  the same at 10 MB/s: the condition fails and the overlap drops
Writes DIR/ring-DATE.csv (every run) and DIR/ring-DATE.md (medians). Standard library only.
"""
import argparse
import csv
import datetime
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def runs(quick):
    n, d, h = (1024, 64, 2) if quick else (8192, 128, 2)
    base = ["--seq", str(n), "--head-dim", str(d), "--heads", str(h), "--threads", "2"]
    # hop bytes: K and V of one shard, 2 * (n / 4) * d * h * 4
    hop = 2 * (n // 4) * d * h * 4
    ok = hop / 0.043 if not quick else 1e9
    slow = ok / 10
    return [
        ("p1", base + ["--devices", "1"]),
        ("p4", base + ["--devices", "4", "--layout", "contiguous"]),
        ("p4-causal-contiguous", base + ["--devices", "4", "--causal", "--layout", "contiguous"]),
        ("p4-causal-zigzag", base + ["--devices", "4", "--causal", "--layout", "zigzag"]),
        ("p4-causal-striped", base + ["--devices", "4", "--causal", "--layout", "striped"]),
        ("p4-link-ok", base + ["--devices", "4", "--link-bandwidth", "%.0f" % ok, "--link-latency", "1ms"]),
        ("p4-link-slow", base + ["--devices", "4", "--link-bandwidth", "%.0f" % slow, "--link-latency", "1ms"]),
    ]


def bench(args, quick):
    extra = ["--reps", "2", "--warmup", "1", "--warmup-ms", "1000", "--peak-ms", "200"] if quick else \
        ["--reps", "3", "--warmup", "1", "--warmup-ms", "2000", "--peak-ms", "300"]
    cmd = [os.path.join(ROOT, "ring-attention"), "bench"] + args + extra + ["--json"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("ring_bench: %s failed (exit %d):\n%s" % (" ".join(cmd), p.returncode, p.stderr))
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--out", default=os.path.join(ROOT, "results"))
    a = ap.parse_args()
    rounds = a.rounds or (1 if a.quick else 3)
    if rounds < 1:
        sys.exit("ring_bench: --rounds must be >= 1")
    os.makedirs(a.out, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y-%m-%d-%H%M%S")
    rows = []
    plan = runs(a.quick)
    for r in range(rounds):
        order = plan if r % 2 == 0 else list(reversed(plan))  # neither end always runs on a warm machine
        for label, args in order:
            j = bench(args, a.quick)
            j["label"] = label
            j["round"] = r + 1
            rows.append(j)
            print("round %d %-22s %8.4f s %7.1f GFLOP/s overlap %.3f imbalance %.3f" % (
                r + 1, label, j["seconds_median"], j["gflops"], j["overlap"], j["imbalance"]), flush=True)
    keys = ["round", "label", "seq", "head_dim", "heads", "causal", "devices", "layout", "threads",
            "link_bandwidth_bytes_per_s", "link_latency_s", "seconds_median", "gflops", "peak_fma_gflops",
            "fraction_of_peak", "overlap", "imbalance", "ring_bytes_sent", "ring_max_bytes_per_device", "cpu"]
    csv_path = os.path.join(a.out, "ring-%s.csv" % stamp)
    with open(csv_path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    med = {}
    for label, _ in plan:
        rs = [x for x in rows if x["label"] == label]
        med[label] = {k: statistics.median(x[k] for x in rs) for k in
                      ("seconds_median", "gflops", "fraction_of_peak", "overlap", "imbalance")}
        med[label]["ratios"] = [x["seconds_median"] for x in rs]
        med[label]["row"] = rs[0]
    p1 = {x["round"]: x["seconds_median"] for x in rows if x["label"] == "p1"}
    lines = ["# Ring attention: %s" % rows[0]["cpu"], "",
             "`scripts/ring_bench.py%s`, %d round(s), %s; medians over the rounds. Time ratio: the run's time over"
             " the one-device time of the same round (median of the per-round ratios)." % (
                 " --quick" if a.quick else "", rounds, stamp), "",
             "| run | N | d | H | mask | P | layout | link | s | GFLOP/s | of peak | time / P=1 | overlap | imbalance |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for label, _ in plan:
        m = med[label]
        r0 = m["row"]
        ratio = statistics.median(x["seconds_median"] / p1[x["round"]] for x in rows if x["label"] == label)
        bw = r0.get("link_bandwidth_bytes_per_s")
        link = "unthrottled" if bw is None else "%.3g MB/s + %.3g ms" % (bw / 1e6, 1e3 * r0["link_latency_s"])
        lines.append("| %s | %d | %d | %d | %s | %d | %s | %s | %.4f | %.1f | %.1f%% | %.3f | %.1f%% | %.3f |" % (
            label, r0["seq"], r0["head_dim"], r0["heads"], "causal" if r0["causal"] else "full", r0["devices"],
            r0["layout"] or "-", link, m["seconds_median"], m["gflops"], 100 * m["fraction_of_peak"], ratio,
            100 * m["overlap"], m["imbalance"]))
    md_path = os.path.join(a.out, "ring-%s.md" % stamp)
    with open(md_path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print("ring_bench: wrote %s and %s" % (csv_path, md_path))


if __name__ == "__main__":
    main()
