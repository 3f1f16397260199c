#!/usr/bin/env python3
# Copyright the ring-attention authors. Licensed under the Apache License 2.0.
"""Independent check of the golden set: attention in float64 NumPy, written from the semantics in
the project's README.md (not from the Java code), compared with the stored reference outputs.

    python3 golden-data/numpy_reference.py [--dir golden-data] [--quiet]

For every case of manifest.json it loads the inputs, computes O, LSE, dQ, dK, dV and requires

    max |numpy - reference| <= numpy_relative * max |reference|     (numpy_relative = 1e-10)

with -inf in LSE (a query row that sees no key) at exactly the same places. Prints one line per
case and a summary line "numpy cross-check: N passed, M failed"; exits 0 when every case passes,
1 when one fails, 2 when the set cannot be read.

Semantics (README.md, "Semantics" and "Formulas"):
  q [B, Hq, Nq, d], k and v [B, Hkv, Nk, d]; query head h reads key/value head h // (Hq // Hkv).
  S = scale * q k^T, scale defaulting to 1/sqrt(d).
  query i sits at p(i) = i + Nk - Nq (causal_align "bottom_right", the default) or p(i) = i
  ("top_left"); a window (left L, right R; -1 = unbounded) keeps keys p(i) - L <= j <= p(i) + R;
  causal is R = 0, and a window W (implies causal) is L = W - 1; segment ids keep keys of the
  query's segment.
  Soft cap C: S = C tanh(scale q k^T / C); ALiBi slopes ([Hq] or [B, Hq]) then add
  -slope * |p(i) - j|, then a bias ([B|1, Hq|1, Nq, Nk], broadcast) is added; a bool keep mask of
  the same broadcast shape is ANDed with the rules above. Gradients go through tanh: dS of the
  product = dS (1 - tanh^2).
  Sinks (one logit per query head) join each row's denominator and carry no value:
  LSE = log(sum exp S + exp(sink)), P = exp(S - LSE), O = P v; a row that sees no key has O = 0
  and LSE = sink; the gradients keep their form with this P.
  Packed sequences (cu_seqlens_q CQ and cu_seqlens_k CK, [S+1], batch 1): query i of sequence s
  (CQ[s] <= i < CQ[s+1]) sees only keys CK[s] <= j < CK[s+1], and sits at
  p(i) = CK[s] + (i - CQ[s]) + (nk_s - nq_s) bottom-right or CK[s] + (i - CQ[s]) top-left, with
  nq_s, nk_s the sequence's own lengths; windows and ALiBi distances |p(i) - j| use that p(i).
  O = softmax(S) v over the visible keys, LSE = log sum exp S (natural log); a row that sees no key
  has O = 0, LSE = -inf and zero gradients.
  Backward, for the loss sum(dO * O): D = rowsum(dO * O), P = exp(S - LSE), dV = P^T dO,
  dP = dO v^T, dS = P * (dP - D), dQ = scale dS k, dK = scale dS^T q; with GQA, dK and dV of a
  key/value head sum over the query heads that read it.
  The sink logit's gradient (cases whose manifest entry has "sink_gradient"; file dsinks): the
  sink enters only through LSE, with dLSE_i/dsink_h = exp(sink_h - LSE_i), and dO_i/dLSE_i = -O_i,
  so dsink_h = -sum over the batch and the query rows of head h (not of its key/value head: each
  query head has its own sink) of exp(sink_h - LSE_i) * D_i. The script also checks it against a
  central finite difference of its own forward pass (step 1e-5, to 1e-6 of max |dsinks|).
"""

import argparse
import json
import os
import sys

import numpy as np

OUTPUTS = ("o", "lse", "dq", "dk", "dv")
SINK_GRADIENT = "dsinks"
FD_STEP = 1e-5  # central differences of the sinks' gradient; error ~ step^2 + 1e-16 * |loss| / step
FD_RELATIVE = 1e-6


def sequences(nq, nk, cu):
    """Per query row and per key, the packed sequence it belongs to (all 0 without cu_seqlens)."""
    if cu is None:
        return np.zeros(nq, dtype=np.int64), np.zeros(nk, dtype=np.int64), np.array([0, nq]), np.array([0, nk])
    cq, ck = (np.asarray(c, dtype=np.int64) for c in cu)
    q_seq = np.zeros(nq, dtype=np.int64)
    k_seq = np.zeros(nk, dtype=np.int64)
    for s in range(len(cq) - 1):
        q_seq[cq[s]:cq[s + 1]] = s
        k_seq[ck[s]:ck[s + 1]] = s
    return q_seq, k_seq, cq, ck


def aligned_positions(nq, nk, align, cu=None):
    """p(i) of each query row, as a column [nq, 1]; with cu_seqlens each sequence on its own lengths."""
    q_seq, _, cq, ck = sequences(nq, nk, cu)
    i = np.arange(nq)
    own_nq = (cq[1:] - cq[:-1])[q_seq]
    own_nk = (ck[1:] - ck[:-1])[q_seq]
    pos = ck[q_seq] + (i - cq[q_seq]) + (0 if align == "top_left" else own_nk - own_nq)
    return pos[:, None]


def visible_keys(nq, nk, causal, window, seg_row, align="bottom_right", left=-1, right=-1, cu=None):
    """Boolean [nq, nk]: which keys each query row sees."""
    pos = aligned_positions(nq, nk, align, cu)
    key = np.arange(nk)[None, :]
    q_seq, k_seq, _, _ = sequences(nq, nk, cu)
    vis = q_seq[:, None] == k_seq[None, :]
    if window > 0:
        left = window - 1
    if causal or window > 0:
        right = 0
    if right >= 0:
        vis &= key <= pos + right
    if left >= 0:
        vis &= key >= pos - left
    if seg_row is not None:
        vis &= seg_row[:, None] == seg_row[None, :]
    return vis


def attention(q, k, v, do, scale, causal, window, segments, align="bottom_right", left=-1, right=-1,
              softcap=0.0, alibi=None, sinks=None, keep=None, bias=None, cu=None):
    """Forward and backward in float64; returns dict of o, lse, dq, dk, dv."""
    batch, hq, nq, d = q.shape
    _, hkv, nk, _ = k.shape
    group = hq // hkv
    o = np.zeros_like(q)
    lse = np.full((batch, hq, nq), -np.inf)
    dq = np.zeros_like(q)
    dk = np.zeros_like(k)
    dv = np.zeros_like(v)
    dsinks = np.zeros(hq)
    empty = 0  # rows that see no key
    for b in range(batch):
        vis = visible_keys(nq, nk, causal, window, None if segments is None else segments[b], align, left, right, cu)
        sees = vis.any(axis=1)
        distance = np.abs(aligned_positions(nq, nk, align, cu) - np.arange(nk)[None, :]).astype(np.float64)
        base_vis = vis
        for h in range(hq):
            g = h // group
            vis = base_vis
            if keep is not None:
                vis = base_vis & np.broadcast_to(keep, (batch, hq, nq, nk))[b, h]
            sees = vis.any(axis=1)
            empty += int((~sees).sum())
            s = scale * (q[b, h] @ k[b, g].T)
            cap_grad = 1.0
            if softcap > 0:
                t = np.tanh(s / softcap)
                s = softcap * t
                cap_grad = 1.0 - t * t
            if alibi is not None:
                s = s - (alibi[h] if alibi.ndim == 1 else alibi[b, h]) * distance
            if bias is not None:
                s = s + np.broadcast_to(bias, (batch, hq, nq, nk))[b, h]
            s = np.where(vis, s, -np.inf)
            m = np.where(sees, s.max(axis=1, initial=-np.inf), 0.0)
            e = np.where(vis, np.exp(s - m[:, None]), 0.0)
            l = e.sum(axis=1)
            safe_l = np.where(sees, l, 1.0)
            p = e / safe_l[:, None]  # softmax rows; all-zero rows for queries that see nothing
            o[b, h] = p @ v[b, g]
            lse[b, h] = np.where(sees, m + np.log(safe_l), -np.inf)
            if sinks is not None:
                sink = sinks[h]
                row_lse = np.logaddexp(np.where(sees, lse[b, h], -np.inf), sink)
                p = np.where(vis, np.exp(s - row_lse[:, None]), 0.0)
                o[b, h] = p @ v[b, g]
                lse[b, h] = row_lse
                # the sink's share of each row's softmax mass times that row's D: its only path into the loss
                share = np.exp(sink - row_lse)
                dsinks[h] -= (share * (do[b, h] * o[b, h]).sum(axis=1)).sum()

            delta = (do[b, h] * o[b, h]).sum(axis=1)
            dp = do[b, h] @ v[b, g].T
            ds = p * (dp - delta[:, None]) * cap_grad
            dv[b, g] += p.T @ do[b, h]
            dq[b, h] = scale * (ds @ k[b, g])
            dk[b, g] += scale * (ds.T @ q[b, h])
    return {"o": o, "lse": lse, "dq": dq, "dk": dk, "dv": dv, SINK_GRADIENT: dsinks, "empty": empty}


def sink_gradient_by_differences(run, sinks, do):
    """d sum(dO * O) / d sink_h by central differences of run(sinks) -> O, in float64."""
    g = np.zeros(len(sinks))
    for h in range(len(sinks)):
        up, down = sinks.copy(), sinks.copy()
        up[h] += FD_STEP
        down[h] -= FD_STEP
        g[h] = ((do * run(up)).sum() - (do * run(down)).sum()) / (2 * FD_STEP)
    return g


def pair_shape(kind, b, hq, nq, nk):
    """Broadcast kind 1 [1, 1, Nq, Nk], 2 [B, 1, ...], 3 [1, Hq, ...], 4 [B, Hq, Nq, Nk]."""
    return (b if kind in (2, 4) else 1, hq if kind >= 3 else 1, nq, nk)


def load(folder, relative, shape, dtypes):
    path = os.path.join(folder, relative)
    arr = np.load(path, allow_pickle=False)
    if tuple(arr.shape) != tuple(shape):
        raise ValueError(f"{path}: shape {arr.shape} differs from the manifest's {tuple(shape)}")
    if arr.dtype.name not in dtypes:
        raise ValueError(f"{path}: dtype {arr.dtype.name}, expected {' or '.join(dtypes)}")
    return arr


def check_case(folder, case, rel):
    """Returns (ok, message)."""
    sh = case["shape"]
    b, hq, hkv, nq, nk, d = (sh[x] for x in ("batch", "q_heads", "kv_heads", "q_len", "kv_len", "dim"))
    files = case["files"]
    dt = (case["dtype"],)
    q = load(folder, files["q"], (b, hq, nq, d), dt).astype(np.float64)
    k = load(folder, files["k"], (b, hkv, nk, d), dt).astype(np.float64)
    v = load(folder, files["v"], (b, hkv, nk, d), dt).astype(np.float64)
    do = load(folder, files["do"], (b, hq, nq, d), dt).astype(np.float64)
    mask = case["mask"]
    segments = None
    if mask["segments"] != "none":
        segments = load(folder, files["segments"], (b, nq), (mask["segment_dtype"],)).astype(np.int64)
    scale = 1.0 / np.sqrt(d) if case["scale_is_default"] else float(case["scale"])
    if case["scale_is_default"] and abs(scale - case["scale"]) > 1e-15 * scale:
        return False, f"manifest scale {case['scale']} is not 1/sqrt({d})"

    alibi = None
    if mask.get("alibi", "none") != "none":
        alibi_shape = (hq,) if mask["alibi"] == "heads" else (b, hq)
        alibi = load(folder, files["alibi"], alibi_shape, ("float64",))
    sinks = load(folder, files["sinks"], (hq,), ("float64",)) if "sink_shift" in mask else None
    outputs = OUTPUTS
    if case.get("sink_gradient", False):
        if sinks is None:
            return False, "sink_gradient without sinks"
        outputs = OUTPUTS + (SINK_GRADIENT,)

    def run(with_sinks):
        return attention(q, k, v, do, scale, mask["causal"], mask["window"], segments,
                         mask.get("causal_align", "bottom_right"), mask.get("window_left", -1),
                         mask.get("window_right", -1), float(mask.get("softcap", 0.0)), alibi, with_sinks,
                         load(folder, files["mask"], pair_shape(mask.get("mask_kind", 0), b, hq, nq, nk), ("bool",))
                         if mask.get("mask_kind", 0) else None,
                         load(folder, files["bias"], pair_shape(mask.get("bias_kind", 0), b, hq, nq, nk),
                              ("float64",)) if mask.get("bias_kind", 0) else None,
                         (load(folder, files["cu_seqlens_q"], (len(mask["cu_seqlens_q"]),), ("int32", "int64")),
                          load(folder, files["cu_seqlens_k"], (len(mask["cu_seqlens_k"]),), ("int32", "int64")))
                         if "cu_seqlens_q" in mask else None)

    mine = run(sinks)
    shapes = {"o": (b, hq, nq, d), "lse": (b, hq, nq), "dq": (b, hq, nq, d), "dk": (b, hkv, nk, d),
              "dv": (b, hkv, nk, d), SINK_GRADIENT: (hq,)}
    worst = []
    ok = True
    if SINK_GRADIENT in outputs:  # the formula against the forward pass it differentiates
        fd = sink_gradient_by_differences(lambda s: run(s)["o"], sinks, do)
        fd_err = np.abs(fd - mine[SINK_GRADIENT]).max() / max(np.abs(fd).max(), 1e-300)
        worst.append(f"dsinks-vs-differences {fd_err:.1e}")
        if not fd_err <= FD_RELATIVE:
            return False, f"dsinks formula differs from central differences by {fd_err:.1e} of max|dsinks|"
    for name in outputs:
        ref = load(folder, files[name], shapes[name], ("float64",))
        got = mine[name]
        ref_inf = np.isinf(ref)
        if not np.array_equal(ref_inf, np.isinf(got)) or not np.array_equal(ref[ref_inf], got[ref_inf]):
            return False, f"{name}: infinities differ (reference has {int(ref_inf.sum())})"
        if np.isnan(ref).any():
            return False, f"{name}: the reference holds NaN"
        finite = ~ref_inf
        scale_ref = np.abs(ref[finite]).max(initial=0.0)
        err = np.abs(ref[finite] - got[finite]).max(initial=0.0)
        relative = err / scale_ref if scale_ref > 0 else err
        worst.append(f"{name} {relative:.1e}")
        if not relative <= rel:
            ok = False
    empty = mine["empty"]
    if "sink_shift" not in mask and empty != int(np.isinf(mine["lse"]).sum()):
        return False, "rows that see no key do not all have LSE = -inf"
    if empty != case["rows_seeing_no_key"]:
        return False, f"{empty} rows see no key, the manifest says {case['rows_seeing_no_key']}"
    return ok, "max |numpy - ref| / max|ref|: " + ", ".join(worst)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", default=here, help="the golden set's folder (default: this script's folder)")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    args = parser.parse_args(argv)
    manifest_path = os.path.join(args.dir, "manifest.json")
    try:
        with open(manifest_path, encoding="utf-8") as f:
            manifest = json.load(f)
        rel = float(manifest["tolerance"]["numpy_relative"])
        cases = manifest["cases"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        print(f"numpy cross-check: cannot read {manifest_path}: {e}", file=sys.stderr)
        return 2
    passed = failed = 0
    for case in cases:
        try:
            ok, message = check_case(args.dir, case, rel)
        except (OSError, ValueError, KeyError, TypeError) as e:
            ok, message = False, str(e)
        if ok:
            passed += 1
        else:
            failed += 1
        if not ok or not args.quiet:
            print(f"{'ok  ' if ok else 'FAIL'} {case.get('name', '?'):<28} {message}")
    print(f"numpy cross-check: {passed} passed, {failed} failed (NumPy {np.__version__}, tolerance {rel:g} x max|ref|)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
