#!/usr/bin/env python3
"""Reference implementation of the ring-attention conformance contract (docs/conformance.md).

    python3 numpy_attention.py CASE_DIR [--bug NAME]

Reads CASE_DIR/case.json and the inputs it names, computes attention in float64 and writes
out.npy and lse.npy (and dq.npy, dk.npy, dv.npy when case.json asks for gradients, and dsinks.npy
when the case has sinks too) into CASE_DIR, rounded to the case's dtype (float32, float16, or
bfloat16 as '<V2' bit patterns; LSE and dsinks in float32).

Semantics, for query row i and key j of one sequence (Nq queries, Nk keys):
    p(i)   = i + Nk - Nq (causal_align "bottom_right") or i ("top_left")
    keep   = (j <= p(i) if causal) and (p(i) - L <= j <= p(i) + R for window [L, R], -1 unbounded)
             and (segments[b, i] == segments[b, j]) and mask[b, h, i, j] and (cu_seqlens: same sequence)
    s_ij   = scale * q_i . k_j;  C * tanh(s / C) with softcap C > 0;  - slope_h * |p(i) - j| with alibi;
             + bias[b, h, i, j];  -inf where not kept
    LSE_i  = log(sum_j exp(s_ij) + exp(sink_h))   (no sink term without sinks)
    O_i    = sum_j exp(s_ij - LSE_i) v_j           (a row that sees no key: O = 0, LSE = -inf or sink_h)
Gradients are those of sum(dO * O); with GQA, dK and dV sum over the query heads of a group.
The sink enters only through LSE (dLSE_i/dsink_h = exp(sink_h - LSE_i), dO_i/dLSE_i = -O_i), so
    dsink_h = -sum over b and the rows i of head h of exp(sink_h - LSE_i) * sum_x dO_ix O_ix
one per query head (heads sharing a key/value head keep their own).

--emulate TYPE (bfloat16 or float16) computes the forward pass as a good kernel in that type does
(the documented low-precision path of `attend --emulate`): inputs rounded to TYPE, scores (the
soft cap, ALiBi and the bias each rounded once) and softmax (with the sink term) in float32, P
rounded to TYPE before P.V, float32 accumulation, O rounded to TYPE, LSE in float32; the backward pass likewise (docs/low-precision.md): P = exp(S - LSE) and D = rowsum(dO * O)
in float32 from the rounded O, dV = r(r(P)^T dO), dS = P * (dO V^T - D) rounded before
dQ = r(scale r(dS) K) and dK = r(scale r(dS)^T Q) (dS times 1 - tanh^2 with a soft cap), GQA
heads summed in float32 before the one rounding; dsinks from the rounded O and the float32 LSE. Such an implementation passes `conform --dtype TYPE` and fails `--dtype float32`.

--bug NAME makes one classic mistake on purpose, so that the conformance runner can be tested:
    top-left       query i sits at p(i) = i whatever causal_align says
    window-off-by-one  the window keeps one key too many on its left side (p(i) - L - 1 <= j)
    softcap-after-bias  the soft cap is applied last, to the score with ALiBi and the bias added
    lse-empty      LSE = +inf for a row that sees no key
    missing-scale  scores are q . k, the scale is not applied
    gqa-dk         dK and dV of a GQA/MQA group are those of its last query head, not the sum
    sink-grad-kv-head  one sink gradient per key/value head: each query head gets its group's sum
"""
import argparse
import json
import os
import sys

import numpy as np

BUGS = ("top-left", "window-off-by-one", "softcap-after-bias", "lse-empty", "missing-scale", "gqa-dk",
        "sink-grad-kv-head")
KNOWN_KEYS = {"name", "causal", "causal_align", "window", "scale", "softcap", "segments", "alibi", "sinks", "mask",
              "bias", "cu_seqlens_q", "cu_seqlens_k", "tensor_layout", "dtype", "gradients", "outputs"}


class ContractError(Exception):
    pass


def load(case_dir, name, what):
    if name is None:
        return None
    path = os.path.join(case_dir, name)
    if not os.path.isfile(path):
        raise ContractError(f"case.json names {what} file {name}, but {path} does not exist")
    return np.load(path)


def load_tensor(case_dir, name, dtype):
    a = np.load(os.path.join(case_dir, name))
    if dtype == "bfloat16":  # '<V2' (ml_dtypes' form) or uint16: the bit patterns
        if a.dtype.kind == "V" and a.dtype.itemsize == 2:
            a = a.view(np.uint16)
        if a.dtype == np.uint16:
            a = (a.astype(np.uint32) << 16).view(np.float32)
    return a.astype(np.float64)


def to_file_form(a, dtype):
    """float32 or float16 arrays; bfloat16 rounded to nearest even and saved as '<V2' bit patterns."""
    if dtype == "float16":
        return a.astype(np.float16)
    if dtype == "bfloat16":
        bits = np.ascontiguousarray(a.astype(np.float32)).view(np.uint32)
        rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)
        return rounded.view("V2")
    return a.astype(np.float32)


def round_to(a, kind):
    """float32 values of a rounded to bfloat16 or float16 (nearest, ties to even)."""
    a = np.asarray(a, dtype=np.float32)
    if kind == "float16":
        return a.astype(np.float16).astype(np.float32)
    bits = np.ascontiguousarray(a).view(np.uint32)
    r = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return r.astype(np.uint32).view(np.float32)


def emulated_scores(q32, k32, scale, rules):
    """float32 scores of --emulate: the scaled products, then the score rules in float32 (soft cap,
    ALiBi, bias: rules(s) returns the scores and the soft cap's 1 - tanh^2, or None)."""
    s = np.float32(scale) * np.einsum("bhid,bhjd->bhij", q32, k32).astype(np.float32)
    return rules(s.astype(np.float32))


def emulated_forward(q, kx, vx, keep, scale, kind, rules, sinks):
    """The low-precision forward of --emulate: returns O and LSE as float64 arrays of their values."""
    q32, k32, v32 = (round_to(t, kind) for t in (q, kx, vx))
    s, _ = emulated_scores(q32, k32, scale, rules)
    s = np.where(keep, s, np.float32(-np.inf)).astype(np.float32)
    m = s.max(axis=-1, keepdims=True)
    sink = None
    if sinks is not None:  # the sink joins the denominator in float32
        sink = sinks.astype(np.float32)[None, :, None, None]
        m = np.maximum(m, sink)
    m_safe = np.where(np.isfinite(m), m, np.float32(0))
    e = np.exp(s - m_safe).astype(np.float32)
    total = e.sum(axis=-1, keepdims=True, dtype=np.float32)
    if sink is not None:
        total = (total + np.exp(sink - m_safe)).astype(np.float32)
    o = np.einsum("bhij,bhjd->bhid", round_to(e, kind), v32).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        o = np.where(total > 0, o / total, np.float32(0))
        lse = np.where(total[..., 0] > 0, m_safe[..., 0] + np.log(total[..., 0]), -np.inf).astype(np.float32)
    return round_to(o, kind).astype(np.float64), lse.astype(np.float64)


def emulated_backward(q, kx, vx, do, keep, scale, kind, out, lse, hkv, rules):
    """The low-precision backward of --emulate (docs/low-precision.md); returns dQ, dK, dV as float64."""
    b, hq, nq, d = q.shape
    nk = kx.shape[2]
    q32, k32, v32, do32 = (round_to(t, kind) for t in (q, kx, vx, do))
    s, cap_grad = emulated_scores(q32, k32, scale, rules)
    lse32 = lse.astype(np.float32)[..., None]
    with np.errstate(invalid="ignore"):
        p = np.where(keep & np.isfinite(lse32), np.exp(s - np.where(np.isfinite(lse32), lse32, 0)), 0)
    p = p.astype(np.float32)
    o32 = out.astype(np.float32)  # the rounded forward output
    dsum = (do32 * o32).sum(axis=-1, keepdims=True, dtype=np.float32)
    # products of values in the format are exact in float64: these sums are float32 accumulation or
    # better, and D and dP agree exactly where O = V (one visible key), so dS is 0 there as it must be
    dsum = (do32.astype(np.float64) * o32).sum(axis=-1, keepdims=True).astype(np.float32)
    dvx = np.einsum("bhij,bhid->bhjd", round_to(p, kind).astype(np.float64), do32).astype(np.float32)
    dp = np.einsum("bhid,bhjd->bhij", do32.astype(np.float64), v32).astype(np.float32)
    ds = p * (dp - dsum)
    ds = round_to(ds if cap_grad is None else (ds * cap_grad).astype(np.float32), kind)
    dq = np.float32(scale) * np.einsum("bhij,bhjd->bhid", ds.astype(np.float64), k32).astype(np.float32)
    dkx = np.float32(scale) * np.einsum("bhij,bhid->bhjd", ds.astype(np.float64), q32).astype(np.float32)
    group = hq // hkv
    dk = dkx.reshape(b, hkv, group, nk, d).sum(axis=2, dtype=np.float32)
    dv = dvx.reshape(b, hkv, group, nk, d).sum(axis=2, dtype=np.float32)
    return tuple(round_to(g, kind).astype(np.float64) for g in (dq, dk, dv))


def attend_one(q, k, v, do, seg, mask, bias, alibi, sinks, cfg, bug, emulate=None):
    """One packed sequence: q [B, Hq, Nq, d], k/v [B, Hkv, Nk, d]; returns O, LSE and gradients (or None)."""
    b, hq, nq, d = q.shape
    hkv, nk = k.shape[1], k.shape[2]
    if hq % hkv:
        raise ContractError(f"{hq} query heads are not a multiple of {hkv} key/value heads")
    group = hq // hkv
    kx = np.repeat(k, group, axis=1)
    vx = np.repeat(v, group, axis=1)
    scale = 1.0 if bug == "missing-scale" else float(cfg["scale"])
    top_left = cfg.get("causal_align", "bottom_right") == "top_left" or bug == "top-left"
    p = np.arange(nq)[:, None] + (0 if top_left else nk - nq)
    j = np.arange(nk)[None, :]
    keep = np.ones((nq, nk), dtype=bool)
    window = cfg.get("window")
    left, right = (-1, -1) if window is None else (int(window[0]), int(window[1]))
    if cfg.get("causal"):
        if right > 0:
            raise ContractError(f"causal with window right {right}: causal means right = 0")
        right = 0
    if left >= 0:
        keep &= j >= p - left - (1 if bug == "window-off-by-one" else 0)
    if right >= 0:
        keep &= j <= p + right
    keep = np.broadcast_to(keep, (b, hq, nq, nk))
    if seg is not None:
        keep = keep & (seg[:, None, :, None] == seg[:, None, None, :])
    if mask is not None:
        keep = keep & np.broadcast_to(mask.astype(bool), (b, hq, nq, nk))
    raw = scale * np.einsum("bhid,bhjd->bhij", q, kx)
    cap = float(cfg.get("softcap") or 0)
    cap_last = bug == "softcap-after-bias"
    if cap > 0 and not cap_last:
        t = np.tanh(raw / cap)
        s = cap * t
    else:
        s = raw
    if alibi is not None:
        slopes = alibi.astype(np.float64).reshape((1, hq) if alibi.ndim == 1 else (b, hq))
        s = s - slopes[:, :, None, None] * np.abs(p - j)[None, None]
    if bias is not None:
        s = s + np.broadcast_to(bias.astype(np.float64), (b, hq, nq, nk))
    if cap > 0 and cap_last:
        t = np.tanh(s / cap)
        s = cap * t
    s = np.where(keep, s, -np.inf)
    m = s.max(axis=-1, keepdims=True)
    if sinks is not None:
        m = np.maximum(m, sinks.astype(np.float64)[None, :, None, None])
    m_safe = np.where(np.isfinite(m), m, 0.0)
    total = np.exp(s - m_safe).sum(axis=-1, keepdims=True)
    if sinks is not None:
        total = total + np.exp(sinks.astype(np.float64)[None, :, None, None] - m_safe)
    with np.errstate(divide="ignore"):
        lse = (m_safe + np.log(total))[..., 0]
    lse = np.where(np.isfinite(lse), lse, -np.inf) if sinks is None else lse
    prob = np.where(keep, np.exp(s - np.where(np.isfinite(lse), lse, 0.0)[..., None]), 0.0)
    out = np.einsum("bhij,bhjd->bhid", prob, vx)
    if emulate:
        def rules(s32):  # the score rules in float32, in the contract's order
            cap_grad = None
            if cap > 0:
                t32 = np.tanh(s32 / np.float32(cap)).astype(np.float32)
                s32 = (np.float32(cap) * t32).astype(np.float32)
                cap_grad = (np.float32(1) - t32 * t32).astype(np.float32)
            if alibi is not None:
                s32 = (s32 - slopes.astype(np.float32)[:, :, None, None]
                       * np.abs(p - j).astype(np.float32)[None, None]).astype(np.float32)
            if bias is not None:
                s32 = (s32 + np.broadcast_to(bias.astype(np.float32), s32.shape)).astype(np.float32)
            return s32, cap_grad
        out, lse = emulated_forward(q, kx, vx, keep, scale, emulate, rules, sinks)
    if bug == "lse-empty":
        lse = np.where(lse == -np.inf, np.inf, lse)
    grads = None
    if do is not None:
        dp = np.einsum("bhid,bhjd->bhij", do, vx)
        dsum = (do * out).sum(axis=-1, keepdims=True)
        ds = prob * (dp - dsum)
        if cap > 0:
            ds = ds * (1 - t * t)
        dq = scale * np.einsum("bhij,bhjd->bhid", ds, kx)
        dkx = scale * np.einsum("bhij,bhid->bhjd", ds, q)
        dvx = np.einsum("bhij,bhid->bhjd", prob, do)
        if bug == "gqa-dk":
            dk = dkx.reshape(b, hkv, group, nk, d)[:, :, -1]
            dv = dvx.reshape(b, hkv, group, nk, d)[:, :, -1]
        else:
            dk = dkx.reshape(b, hkv, group, nk, d).sum(axis=2)
            dv = dvx.reshape(b, hkv, group, nk, d).sum(axis=2)
        grads = (dq, dk, dv)
        if emulate:
            grads = emulated_backward(q, kx, vx, do, keep, scale, emulate, out, lse, hkv, rules)
    return out, lse, grads


def run(case_dir, bug=None, emulate=None):
    with open(os.path.join(case_dir, "case.json")) as f:
        cfg = json.load(f)
    unknown = set(cfg) - KNOWN_KEYS
    if unknown:
        raise ContractError(f"case.json has keys this implementation does not know: {sorted(unknown)}")
    dtype = cfg.get("dtype", "float32")
    if dtype not in ("float32", "float16", "bfloat16"):
        raise ContractError(f"dtype {dtype!r} is not supported")
    layout = cfg.get("tensor_layout", "bhnd")
    if layout not in ("bhnd", "bnhd"):
        raise ContractError(f"tensor_layout {layout!r} is not supported")
    names = ["q", "k", "v"] + (["do"] if cfg.get("gradients") else [])
    t = {n: load_tensor(case_dir, n + ".npy", dtype) for n in names}
    if layout == "bnhd":
        t = {n: a.transpose(0, 2, 1, 3) for n, a in t.items()}
    seg = load(case_dir, cfg.get("segments"), "segments")
    mask = load(case_dir, cfg.get("mask"), "mask")
    bias = load(case_dir, cfg.get("bias"), "bias")
    alibi = load(case_dir, cfg.get("alibi"), "alibi")
    sinks = load(case_dir, cfg.get("sinks"), "sinks")
    cq = load(case_dir, cfg.get("cu_seqlens_q"), "cu_seqlens_q")
    ck = load(case_dir, cfg.get("cu_seqlens_k"), "cu_seqlens_k")
    q, k, v, do = t["q"], t["k"], t["v"], t.get("do")
    if seg is not None and q.shape[2] != k.shape[2]:
        raise ContractError("segments need Nq = Nk")
    if (cq is None) != (ck is None):
        raise ContractError("cu_seqlens_q and cu_seqlens_k come together")
    if cq is None:
        out, lse, grads = attend_one(q, k, v, do, seg, mask, bias, alibi, sinks, cfg, bug, emulate)
    else:
        if seg is not None:
            raise ContractError("segments and cu_seqlens both pack sequences: give one")
        if q.shape[0] != 1:
            raise ContractError("with cu_seqlens, q, k, v have batch 1")
        out = np.zeros_like(q)
        lse = np.full(q.shape[:3], -np.inf)
        grads = (np.zeros_like(q), np.zeros_like(k), np.zeros_like(v)) if do is not None else None
        if cq.ndim != 1 or ck.shape != cq.shape or cq[0] != 0 or ck[0] != 0 or np.any(np.diff(cq) < 0) \
                or np.any(np.diff(ck) < 0) or cq[-1] != q.shape[2] or ck[-1] != k.shape[2]:
            raise ContractError("cu_seqlens must be [S+1], start at 0, never decrease and end at total_q, total_k")
        for s in range(len(cq) - 1):
            qs, qe, ks, ke = int(cq[s]), int(cq[s + 1]), int(ck[s]), int(ck[s + 1])
            if qe == qs:
                continue
            if ke == ks:  # no key: O = 0, LSE = -inf (or the sink), zero gradients
                if sinks is not None:
                    lse[:, :, qs:qe] = sinks.astype(np.float64)[None, :, None]
                continue
            o, l, g = attend_one(q[:, :, qs:qe], k[:, :, ks:ke], v[:, :, ks:ke],
                                 None if do is None else do[:, :, qs:qe], None,
                                 None if mask is None else mask[..., qs:qe, ks:ke],
                                 None if bias is None else bias[..., qs:qe, ks:ke], alibi, sinks, cfg, bug, emulate)
            out[:, :, qs:qe] = o
            lse[:, :, qs:qe] = l
            if g is not None:
                grads[0][:, :, qs:qe] = g[0]
                grads[1][:, :, ks:ke] += g[1]
                grads[2][:, :, ks:ke] += g[2]
    results = {"out": out}
    if grads is not None:
        results.update(dq=grads[0], dk=grads[1], dv=grads[2])
    if do is not None and sinks is not None:
        share = np.exp(sinks.astype(np.float64)[None, :, None] - lse)  # the sink's softmax weight per row
        dsinks = -(share * (do * out).sum(axis=-1)).sum(axis=(0, 2))
        if bug == "sink-grad-kv-head":
            group = q.shape[1] // k.shape[1]
            dsinks = np.repeat(dsinks.reshape(-1, group).sum(axis=1), group)
        np.save(os.path.join(case_dir, "dsinks.npy"), dsinks.astype(np.float32))
    for n, a in results.items():
        if layout == "bnhd":
            a = a.transpose(0, 2, 1, 3)
        np.save(os.path.join(case_dir, n + ".npy"), to_file_form(np.ascontiguousarray(a), dtype))
    np.save(os.path.join(case_dir, "lse.npy"), lse.astype(np.float32))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("case_dir")
    ap.add_argument("--bug", choices=BUGS, help="make one classic mistake on purpose (for testing the runner)")
    ap.add_argument("--emulate", choices=("bfloat16", "float16"),
                    help="compute the forward pass as a good kernel in this type does (see above)")
    a = ap.parse_args()
    try:
        with np.errstate(invalid="ignore", over="ignore"):
            run(a.case_dir, a.bug, a.emulate)
    except ContractError as e:
        print(f"numpy_attention.py: {a.case_dir}: {e}", file=sys.stderr)
        sys.exit(3)


if __name__ == "__main__":
    main()
