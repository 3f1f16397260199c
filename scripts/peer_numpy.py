#!/usr/bin/python3
"""The NumPy peer of `ring-attention bench`: vanilla float32 attention with the score matrix
materialized, timed the same way, printed with the same JSON keys.

    /usr/bin/python3 scripts/peer_numpy.py --seq 4096 --head-dim 128 --heads 2 [--kv-heads K]
        [--causal] [--backward] [--threads T] [--warmup W] [--reps R] [--seed S] [--json]

Forward, per head (batched over heads with np.matmul, which calls BLAS sgemm per head):
    S = (q @ k^T) * scale                 scale = 1/sqrt(d); causal: + bias, -inf above the diagonal
    P = exp(S - rowmax(S)) / rowsum(...)  softmax with max subtraction, in place
    O = P @ v
Backward (--backward; only the backward pass is timed, given the forward's P and O, as an
autograd framework keeps them):
    dV = P^T dO,  dP = dO V^T,  D = rowsum(dO * O),  dS = P * (dP - D)
    dQ = scale * dS K,  dK = scale * dS^T Q        (GQA: dK, dV summed over each group)
GFLOP/s use the engine's convention: 4*N^2*d*H per forward pass, half of it with --causal (NumPy
still computes the full matrix), 2.5 times it for the backward pass. So the ratio of two GFLOP/s
numbers is the ratio of the times.

Threads: OPENBLAS_NUM_THREADS (and OMP_/MKL_NUM_THREADS) are set from --threads before NumPy is
imported; only the matrix products run on several threads, the elementwise work (exp, max, sums)
runs on one. Needs NumPy (Debian: scripts/install-peer.sh installs python3-numpy and
libopenblas0-pthread).
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time


def parse_args(argv):
    p = argparse.ArgumentParser(description="Times vanilla float32 attention in NumPy (the bench peer).")
    p.add_argument("--seq", type=int, required=True, metavar="N", help="sequence length (queries = keys)")
    p.add_argument("--head-dim", type=int, required=True, metavar="D", help="head dimension")
    p.add_argument("--heads", type=int, required=True, metavar="H", help="query heads")
    p.add_argument("--kv-heads", type=int, metavar="K", help="key/value heads (default: --heads)")
    p.add_argument("--causal", action="store_true", help="causal mask")
    p.add_argument("--backward", action="store_true", help="time the backward pass")
    p.add_argument("--threads", type=int, metavar="T", help="BLAS threads (default: available processors)")
    p.add_argument("--warmup", type=int, default=2, metavar="W", help="untimed runs (default 2)")
    p.add_argument("--reps", type=int, default=5, metavar="R", help="timed runs (default 5)")
    p.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    a = p.parse_args(argv)
    if a.kv_heads is None:
        a.kv_heads = a.heads
    if a.threads is None:
        a.threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    for name, value in (("--seq", a.seq), ("--head-dim", a.head_dim), ("--heads", a.heads),
                        ("--kv-heads", a.kv_heads), ("--threads", a.threads), ("--reps", a.reps)):
        if value < 1:
            p.error(f"{name} must be >= 1, got {value}")
    if a.warmup < 0:
        p.error(f"--warmup must be >= 0, got {a.warmup}")
    if a.heads % a.kv_heads != 0:
        p.error(f"--heads ({a.heads}) must be a multiple of --kv-heads ({a.kv_heads})")
    return a


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and value.strip():
                    return " ".join(value.split())
    except OSError:
        pass
    return platform.processor() or platform.machine()


def openblas_info():
    """(version, config string, threads) of the OpenBLAS that NumPy loaded, or Nones."""
    import ctypes
    try:
        lib = ctypes.CDLL("libopenblas.so.0")
        lib.openblas_get_config.restype = ctypes.c_char_p
        config = lib.openblas_get_config().decode()
        version = config.split()[1] if config.startswith("OpenBLAS ") else None
        return version, config, int(lib.openblas_get_num_threads())
    except (OSError, AttributeError, IndexError):
        return None, None, None


def attention_flops(n, d, h, causal, backward):
    """The FLOPs of one attention pass: 4*N^2*d*H, half when causal, 2.5 times for the backward
    pass. This script's one copy of the formula of benchkit's AttentionFlops (the reference)."""
    return 4.0 * n * n * d * h * (0.5 if causal else 1.0) * (2.5 if backward else 1.0)


def attention_forward(np, q, k, v, scale, bias, s, o):
    """O and P of vanilla attention; q [H, N, d], k and v [H, N, d] (expanded for GQA); bias
    [N, N] is None or the additive mask (0 where a query sees a key, -inf where not). The scores
    go into s [H, N, N] and O into o [H, N, d], allocated once by the caller."""
    np.matmul(q, k.transpose(0, 2, 1), out=s)
    s *= scale
    if bias is not None:
        s += bias
    m = s.max(axis=-1, keepdims=True)
    s -= m
    np.exp(s, out=s)
    s /= s.sum(axis=-1, keepdims=True)
    return np.matmul(s, v, out=o), s


def attention_backward(np, q, k, v, scale, o, p, d_out, kv_heads, dp):
    """dQ, dK, dV given O and P of the forward pass; dK, dV summed over each GQA group. dP and dS
    go into dp [H, N, N], allocated once by the caller."""
    h, n, d = q.shape
    dv = np.matmul(p.transpose(0, 2, 1), d_out)
    np.matmul(d_out, v.transpose(0, 2, 1), out=dp)
    dp -= np.sum(d_out * o, axis=-1, keepdims=True)
    dp *= p  # dS
    dq = np.matmul(dp, k)
    dq *= scale
    dk = np.matmul(dp.transpose(0, 2, 1), q)
    dk *= scale
    if kv_heads < h:
        dk = dk.reshape(kv_heads, h // kv_heads, n, d).sum(axis=1)
        dv = dv.reshape(kv_heads, h // kv_heads, n, d).sum(axis=1)
    return dq, dk, dv


def main(argv):
    a = parse_args(argv)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(a.threads)
    import numpy as np  # after the thread variables: OpenBLAS reads them when it loads

    h, kv, n, d = a.heads, a.kv_heads, a.seq, a.head_dim
    group = h // kv
    scale = np.float32(1.0 / np.sqrt(d))
    rng = np.random.default_rng(a.seed)
    q = rng.standard_normal((h, n, d), dtype=np.float32)
    k = rng.standard_normal((kv, n, d), dtype=np.float32)
    v = rng.standard_normal((kv, n, d), dtype=np.float32)
    d_out = rng.standard_normal((h, n, d), dtype=np.float32) if a.backward else None
    # Query head i reads key/value head i // group: expand once, outside the timed runs.
    k_h = np.repeat(k, group, axis=0) if group > 1 else k
    v_h = np.repeat(v, group, axis=0) if group > 1 else v
    # The causal mask as an additive bias (-inf where key j > query i), built once like a
    # framework's cached mask; adding it is one pass over the scores.
    bias = np.where(np.triu(np.ones((n, n), dtype=bool), k=1), np.float32(-np.inf), np.float32(0)) \
        if a.causal else None

    # The N x N buffers are allocated once, outside the timed runs: an array that large, allocated
    # per run, is fresh memory from the kernel each time (measured: 7-10% slower at N=4096, d=128).
    scores = np.empty((h, n, n), dtype=np.float32)
    out = np.empty((h, n, d), dtype=np.float32)
    d_scores = np.empty((h, n, n), dtype=np.float32) if a.backward else None

    def forward():
        return attention_forward(np, q, k_h, v_h, scale, bias, scores, out)

    def backward(o, p):
        return attention_backward(np, q, k_h, v_h, scale, o, p, d_out, kv, d_scores)

    saved = forward() if a.backward else None

    def run():
        t0 = time.perf_counter()
        result = backward(*saved) if a.backward else forward()
        t1 = time.perf_counter()
        if not np.isfinite(result[0][0, 0, 0]):
            raise SystemExit("peer_numpy: non-finite result")
        return t1 - t0

    flops = attention_flops(n, d, h, a.causal, a.backward)
    what = ("causal" if a.causal else "full") + (" backward" if a.backward else " forward")
    blas_version, blas_config, blas_threads = openblas_info()
    peer = "numpy+openblas " + (blas_version or "?")
    print(f"peer_numpy: [1, {h}, {n}, {d}] q, {kv} kv heads, {what}, {a.threads} thread(s); {peer},"
          f" numpy {np.__version__}")
    print(f"cpu: {cpu_model()}; BLAS: {blas_config or 'unknown'} (threads {blas_threads})")
    print(f"{'run':<9} {'seconds':>10} {'GFLOP/s':>10}")
    for i in range(a.warmup):
        s = run()
        print(f"{'warm-up ' + str(i + 1):<9} {s:10.4f} {flops / s / 1e9:10.2f}", flush=True)
    seconds = []
    for i in range(a.reps):
        s = run()
        seconds.append(s)
        print(f"{'rep ' + str(i + 1):<9} {s:10.4f} {flops / s / 1e9:10.2f}", flush=True)
    median = statistics.median(seconds)
    print(f"{'median':<9} {median:10.4f} {flops / median / 1e9:10.2f}")
    print(f"{'min':<9} {min(seconds):10.4f} {flops / min(seconds) / 1e9:10.2f}")
    print(f"{'max':<9} {max(seconds):10.4f} {flops / max(seconds) / 1e9:10.2f}")
    scores_bytes = 4 * h * n * n * (2 if a.backward else 1)  # P, and dP/dS for the backward pass
    if a.json:
        import resource
        record = {
            "tool": "numpy",
            "peer": peer,
            "seq": n,
            "head_dim": d,
            "heads": h,
            "kv_heads": kv,
            "batch": 1,
            "causal": a.causal,
            "backward": a.backward,
            "threads": a.threads,
            "warmup": a.warmup,
            "reps": a.reps,
            "seed": a.seed,
            "flops": flops,
            "seconds_median": median,
            "seconds_min": min(seconds),
            "seconds_max": max(seconds),
            "seconds": seconds,
            "gflops": flops / median / 1e9,
            "gflops_best": flops / min(seconds) / 1e9,
            "materialized_scores_bytes": scores_bytes,
            "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            "numpy": np.__version__,
            "blas": blas_config,
            "blas_threads": blas_threads,
            "python": platform.python_version(),
            "cpu": cpu_model(),
            "processors": os.cpu_count(),
        }
        print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
