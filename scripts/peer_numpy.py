#!/usr/bin/env python3
"""The NumPy peer of `ring-attention bench`: vanilla float32 attention with the score matrix
materialized, timed the same way, printed with the same JSON keys.

    python3 scripts/peer_numpy.py --seq 4096 --head-dim 128 --heads 2 [--kv-heads K]
        [--causal] [--backward [--backward-p kept|recomputed]] [--threads T] [--warmup W]
        [--reps R] [--seed S] [--keep-blas-env] [--json]
    python3 scripts/peer_numpy.py --probe [--threads T]    # which NumPy and BLAS, sgemm speed

Forward, per head (batched over heads with np.matmul, which calls BLAS sgemm per head):
    S = (q @ k^T) * scale                 scale = 1/sqrt(d); causal: + bias, -inf above the diagonal
    P = exp(S - rowmax(S)) / rowsum(...)  softmax with max subtraction, in place
    O = P @ v,  LSE = rowmax + log(rowsum)
Backward (--backward; only the backward pass is timed, given the forward's results). Two peers:
  --backward-p kept (default): P is kept from the forward, as an autograd framework keeps it;
  --backward-p recomputed: only O and LSE are kept, as a fused kernel keeps them, and P is
    recomputed first: S = (q @ k^T) * scale (+ bias), P = exp(S - LSE) (one more product).
Then, either way:
    dV = P^T dO,  dP = dO V^T,  D = rowsum(dO * O),  dS = P * (dP - D)
    dQ = scale * dS K,  dK = scale * dS^T Q        (GQA: dK, dV summed over each group)
GFLOP/s use the engine's convention (attention_flops below): 4*N^2*d*H per forward pass, half of
it with --causal (NumPy still computes the full matrix), 2.5 times it for the backward pass,
whichever peer. So the ratio of two GFLOP/s numbers is the ratio of the times.

A fair peer: OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are removed from this process's environment
before NumPy loads OpenBLAS (unless --keep-blas-env), so that OpenBLAS picks its kernels for the
CPU it runs on (a machine-wide OPENBLAS_CORETYPE=Haswell runs AVX2 kernels on AVX-512 cores at
half speed). The BLAS actually loaded is read at run time and printed: its version, core type
and threads, from threadpoolctl when installed, else from the OpenBLAS library in this process
(openblas_get_config / openblas_get_corename through ctypes, with the symbol prefixes and
suffixes of NumPy's bundled scipy-openblas), else numpy.show_config's build-time description.

Threads: OPENBLAS_NUM_THREADS (and OMP_/MKL_NUM_THREADS) are set from --threads before NumPy is
imported; only the matrix products run on several threads, the elementwise work (exp, max, sums)
runs on one. Needs NumPy: python3 on PATH (pip's NumPy bundles a recent OpenBLAS), or Debian's
(scripts/install-peer.sh installs python3-numpy and libopenblas0-pthread). bench-compare.sh
probes both and uses the faster.
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
    p.add_argument("--backward-p", choices=("kept", "recomputed"), default="kept",
                   help="backward peer: P kept from the forward (default) or recomputed from the LSE")
    p.add_argument("--keep-blas-env", action="store_true",
                   help="leave OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE as they are (default: unset them)")
    p.add_argument("--probe", action="store_true",
                   help="print which NumPy and BLAS run and a short sgemm speed as JSON, and exit")
    p.add_argument("--json", action="store_true", help="print one JSON object on the last line")
    if "--probe" in argv:  # the shape options are not needed to probe
        argv = ["--seq", "1", "--head-dim", "1", "--heads", "1"] + list(argv)
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


BLAS_ENV = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def blas_info(np):
    """What BLAS NumPy runs, read at run time: a dict with version, core, threads, config (a
    description) and source (how it was read); values None where unknown."""
    info = {"version": None, "core": None, "threads": None, "config": None, "source": None}
    try:
        import threadpoolctl
        for pool in threadpoolctl.threadpool_info():
            if pool.get("user_api") == "blas":
                info.update(version=pool.get("version"), core=pool.get("architecture"),
                            threads=pool.get("num_threads"), source="threadpoolctl",
                            config=f"{pool.get('internal_api')} {pool.get('version')} {pool.get('filepath')}")
                return info
    except ImportError:
        pass
    got = openblas_in_process()
    if got is not None:
        info.update(got)
        return info
    try:  # build-time only: the core type it names is not necessarily the one running
        blas = np.show_config(mode="dicts").get("Build Dependencies", {}).get("blas", {})
        info.update(version=blas.get("version"), config=blas.get("openblas configuration") or blas.get("name"),
                    source="numpy.show_config (build time)")
    except Exception:  # NumPy 1.x has no mode="dicts"
        pass
    return info


def openblas_in_process():
    """Version, core, threads and config of the OpenBLAS loaded into this process (found in
    /proc/self/maps), through its own functions; None if there is none or it does not say."""
    import ctypes
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        paths = []
    paths += ["libopenblas.so.0"]
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        # Debian's libopenblas exports openblas_get_config; pip's scipy-openblas64 exports
        # scipy_openblas_get_config64_ (prefix and 64-bit-integer suffix).
        for prefix, suffix in (("", ""), ("scipy_", "64_"), ("scipy_", ""), ("", "64_")):
            try:
                config_fn = getattr(lib, f"{prefix}openblas_get_config{suffix}")
            except AttributeError:
                continue
            config_fn.restype = ctypes.c_char_p
            config = config_fn().decode()
            core = None
            try:
                core_fn = getattr(lib, f"{prefix}openblas_get_corename{suffix}")
                core_fn.restype = ctypes.c_char_p
                core = core_fn().decode()
            except AttributeError:
                pass
            threads = None
            try:
                threads = int(getattr(lib, f"{prefix}openblas_get_num_threads{suffix}")())
            except AttributeError:
                pass
            words = config.split()
            version = words[1] if len(words) > 1 and words[0] == "OpenBLAS" else None
            return {"version": version, "core": core, "threads": threads, "config": config,
                    "source": f"{path} ({prefix}openblas_get_config{suffix})"}
    return None


def blas_env_note(unset):
    """What happened to OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE, for the log."""
    if unset:
        return "unset " + ", ".join(f"{k}={v}" for k, v in unset.items())
    kept = [f"{k}={os.environ[k]}" for k in BLAS_ENV if k in os.environ]
    return "kept " + ", ".join(kept) if kept else "OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE not set"


def sgemm_probe(np, n=1024, runs=5):
    """Best GFLOP/s of an n x n x n float32 matrix product: which NumPy to use, not a result."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, n), dtype=np.float32)
    y = rng.standard_normal((n, n), dtype=np.float32)
    z = np.empty((n, n), dtype=np.float32)
    best = float("inf")
    for _ in range(runs + 1):
        t0 = time.perf_counter()
        np.matmul(x, y, out=z)
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n ** 3 / best / 1e9


def attention_flops(n, d, h, causal, backward):
    """The FLOPs of one attention pass: 4*N^2*d*H, half when causal, 2.5 times for the backward
    pass. This script's one copy of the formula of benchkit's AttentionFlops (the reference)."""
    return 4.0 * n * n * d * h * (0.5 if causal else 1.0) * (2.5 if backward else 1.0)


def attention_forward(np, q, k, v, scale, bias, s, o):
    """O, P and LSE (as [H, N, 1]) of vanilla attention; q [H, N, d], k and v [H, N, d] (expanded for GQA); bias
    [N, N] is None or the additive mask (0 where a query sees a key, -inf where not). The scores
    go into s [H, N, N] and O into o [H, N, d], allocated once by the caller."""
    np.matmul(q, k.transpose(0, 2, 1), out=s)
    s *= scale
    if bias is not None:
        s += bias
    m = s.max(axis=-1, keepdims=True)
    s -= m
    np.exp(s, out=s)
    total = s.sum(axis=-1, keepdims=True)
    s /= total
    return np.matmul(s, v, out=o), s, m + np.log(total)


def recompute_p(np, q, k, scale, bias, lse, s):
    """P = exp(S - LSE) from the saved LSE [H, N, 1], as a fused kernel's backward pass does,
    into s [H, N, N]. Rows that see no key have LSE = -inf; there are none without a window."""
    np.matmul(q, k.transpose(0, 2, 1), out=s)
    s *= scale
    if bias is not None:
        s += bias
    s -= lse
    np.exp(s, out=s)
    return s


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
    unset = {}
    if not a.keep_blas_env:
        unset = {var: os.environ.pop(var) for var in BLAS_ENV if var in os.environ}
    import numpy as np  # after the environment: OpenBLAS reads it when it loads
    blas = blas_info(np)
    if a.probe:
        print(json.dumps({"python": sys.executable, "numpy": np.__version__, "blas_version": blas["version"],
                          "blas_core": blas["core"], "blas_threads": blas["threads"], "blas": blas["config"],
                          "blas_info_source": blas["source"], "blas_env_unset": unset,
                          "sgemm_gflops": sgemm_probe(np)}))
        return 0

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

    recompute = a.backward and a.backward_p == "recomputed"

    def backward(o, p, lse):
        if recompute:  # p is the forward's buffer: overwritten, as if it had not been kept
            p = recompute_p(np, q, k_h, scale, bias, lse, p)
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
    if a.backward:
        what += ", P " + a.backward_p
    peer = f"numpy {np.__version__} + OpenBLAS {blas['version'] or '?'} ({blas['core'] or '?'})"
    print(f"peer_numpy: [1, {h}, {n}, {d}] q, {kv} kv heads, {what}, {a.threads} thread(s); {peer};"
          f" python {sys.executable}")
    print(f"cpu: {cpu_model()}; BLAS: {blas['config'] or 'unknown'} (threads {blas['threads']}, read from"
          f" {blas['source']}); {blas_env_note(unset)}")
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
            "backward_p": a.backward_p if a.backward else None,
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
            "blas": blas["config"],
            "blas_version": blas["version"],
            "blas_core": blas["core"],
            "blas_threads": blas["threads"],
            "blas_info_source": blas["source"],
            "blas_env_unset": unset,
            "blas_env_kept": {k: os.environ[k] for k in BLAS_ENV if k in os.environ},
            "python": platform.python_version(),
            "python_executable": sys.executable,
            "cpu": cpu_model(),
            "processors": os.cpu_count(),
        }
        print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
