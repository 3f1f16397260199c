#!/usr/bin/env python3
"""Conformance adapter for PyTorch's torch.nn.functional.scaled_dot_product_attention (PyTorch >= 2.1).

    ring-attention conform --impl 'python3 examples/torch_sdpa.py {case}' [--dtype bfloat16] [--gradients]

Not run in CI: no PyTorch 2 is installable on the project's machines. The adapter builds SDPA's
attn_mask itself, because SDPA's is_causal aligns top-left while the contract asks for the
alignment in case.json ("bottom_right" by default); the window, segments, mask file, ALiBi and
bias go into the same mask (boolean keep, or float added to the scores). SDPA returns no LSE, so
the adapter computes it from the scores in float32. A row that sees no key comes back as NaN
from SDPA; the contract wants O = 0 there, so the adapter zeroes it. Soft-capping, sinks and
cu_seqlens have no SDPA equivalent: such cases are refused with a clear error (the case fails).
Set CONFORM_DEVICE=cuda to run on a GPU.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F


def die(case_dir, msg):
    print(f"torch_sdpa.py: {case_dir}: {msg}", file=sys.stderr)
    sys.exit(3)


def load(case_dir, name, dtype, device):
    a = np.load(os.path.join(case_dir, name))
    if dtype == "bfloat16":
        bits = a.view(np.uint16).astype(np.int32) << 16
        t = torch.from_numpy(bits.view(np.float32).copy()).to(torch.bfloat16)
    else:
        t = torch.from_numpy(a.copy())
    return t.to(device)


def save(case_dir, name, t):
    t = t.detach().cpu()
    if t.dtype == torch.bfloat16:
        bits = (t.float().numpy().view(np.uint32) >> 16).astype(np.uint16)  # exact: the values are bfloat16
        np.save(os.path.join(case_dir, name), bits.view("V2"))
    else:
        np.save(os.path.join(case_dir, name), t.numpy())


def main():
    case_dir = sys.argv[1]
    with open(os.path.join(case_dir, "case.json")) as f:
        cfg = json.load(f)
    for key in ("sinks", "cu_seqlens_q", "cu_seqlens_k"):
        if cfg.get(key):
            die(case_dir, f"{key} is not supported by scaled_dot_product_attention")
    if float(cfg.get("softcap") or 0) > 0:
        die(case_dir, "softcap is not supported by scaled_dot_product_attention")
    if cfg.get("tensor_layout", "bhnd") != "bhnd":
        die(case_dir, "only tensor_layout bhnd is implemented here")
    dtype = cfg["dtype"]
    device = os.environ.get("CONFORM_DEVICE", "cpu")
    q, k, v = (load(case_dir, n + ".npy", dtype, device) for n in ("q", "k", "v"))
    b, hq, nq, d = q.shape
    hkv, nk = k.shape[1], k.shape[2]
    grads = bool(cfg.get("gradients"))
    if grads:
        for t in (q, k, v):
            t.requires_grad_(True)
    top_left = cfg.get("causal_align") == "top_left"
    p = torch.arange(nq, device=device)[:, None] + (0 if top_left else nk - nq)
    j = torch.arange(nk, device=device)[None, :]
    keep = torch.ones(nq, nk, dtype=torch.bool, device=device)
    left, right = cfg["window"] if cfg.get("window") else (-1, -1)
    if cfg.get("causal"):
        right = 0
    if left >= 0:
        keep &= j >= p - left
    if right >= 0:
        keep &= j <= p + right
    keep = keep.expand(b, hq, nq, nk)
    if cfg.get("segments"):
        seg = torch.from_numpy(np.load(os.path.join(case_dir, cfg["segments"]))).to(device)
        keep = keep & (seg[:, None, :, None] == seg[:, None, None, :])
    if cfg.get("mask"):
        keep = keep & torch.from_numpy(np.load(os.path.join(case_dir, cfg["mask"]))).to(device).bool()
    add = torch.zeros(b, hq, nq, nk, dtype=torch.float32, device=device)
    if cfg.get("alibi"):
        slopes = torch.from_numpy(np.load(os.path.join(case_dir, cfg["alibi"]))).float().to(device)
        slopes = slopes.reshape(1, hq) if slopes.dim() == 1 else slopes
        add = add - slopes[:, :, None, None] * (p - j).abs()[None, None].float()
    if cfg.get("bias"):
        add = add + torch.from_numpy(np.load(os.path.join(case_dir, cfg["bias"]))).float().to(device)
    mask = add.masked_fill(~keep, float("-inf")).to(q.dtype)
    kx = k.repeat_interleave(hq // hkv, dim=1)
    vx = v.repeat_interleave(hq // hkv, dim=1)
    out = F.scaled_dot_product_attention(q, kx, vx, attn_mask=mask, scale=float(cfg["scale"]))
    out = torch.nan_to_num(out, nan=0.0)  # rows that see no key
    with torch.no_grad():
        s = float(cfg["scale"]) * (q.float() @ kx.float().transpose(-1, -2)) + mask.float()
        lse = torch.logsumexp(s, dim=-1)
    save(case_dir, "out.npy", out)
    np.save(os.path.join(case_dir, "lse.npy"), lse.cpu().numpy().astype(np.float32))
    if grads:
        do = load(case_dir, "do.npy", dtype, device)
        out.backward(do)
        for name, t in (("dq", q), ("dk", k), ("dv", v)):
            save(case_dir, name + ".npy", torch.nan_to_num(t.grad, nan=0.0))


if __name__ == "__main__":
    main()
