#!/usr/bin/env python3
"""An independent float64 NumPy implementation of Hugging Face transformers' LlamaForCausalLM forward pass.

Usage: llama_reference.py MODEL_DIR TOKENS.npy LOGITS.npy

MODEL_DIR holds config.json and model.safetensors (or shards listed by model.safetensors.index.json);
TOKENS.npy is int32/int64 [N] or [B, N]; LOGITS.npy receives float64 [B, N, vocab].

Written from the transformers modeling code's formulas, not from the Java engine:
  RMSNorm(x) = w * x / sqrt(mean(x^2) + eps)
  RoPE: inv_freq = 1 / theta^(arange(0, d, 2) / d), emb = cat(t*inv_freq, t*inv_freq),
        q' = q*cos(emb) + rotate_half(q)*sin(emb), rotate_half(x) = cat(-x[d/2:], x[:d/2])
  attention: softmax(q k^T / sqrt(d) + causal mask) v, key/value heads repeated for GQA
  MLP: down(silu(gate(x)) * up(x)); residual connections; final norm; lm_head (tied: embed_tokens).
"""
import json
import os
import struct
import sys

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = data[begin:end]
        dtype = info["dtype"]
        if dtype == "F32":
            a = np.frombuffer(buf, dtype="<f4").astype(np.float64)
        elif dtype == "F16":
            a = np.frombuffer(buf, dtype="<f2").astype(np.float64)
        elif dtype == "BF16":
            bits = np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16
            a = bits.view(np.float32).astype(np.float64)
        else:
            raise SystemExit(f"{path}: unsupported dtype {dtype} of {name}")
        out[name] = a.reshape(info["shape"])
    return out


def read_weights(model_dir):
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
        weights = {}
        for name in files:
            weights.update(read_safetensors(os.path.join(model_dir, name)))
        return weights
    return read_safetensors(os.path.join(model_dir, "model.safetensors"))


def rms_norm(x, w, eps):
    return w * (x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps))


def rotate_half(x):
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def forward(cfg, w, tokens):
    h = cfg["hidden_size"]
    nh = cfg["num_attention_heads"]
    nkv = cfg.get("num_key_value_heads") or nh
    d = cfg.get("head_dim") or h // nh
    eps = cfg.get("rms_norm_eps", 1e-6)
    theta = cfg.get("rope_theta", 10000.0)
    b, n = tokens.shape
    x = w["model.embed_tokens.weight"][tokens]  # [B, N, h]
    inv_freq = 1.0 / (theta ** (np.arange(0, d, 2, dtype=np.float64) / d))
    freqs = np.outer(np.arange(n, dtype=np.float64), inv_freq)
    emb = np.concatenate([freqs, freqs], axis=-1)
    cos, sin = np.cos(emb), np.sin(emb)  # [N, d]
    mask = np.triu(np.full((n, n), -np.inf), k=1)
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (a @ w[p + "self_attn.q_proj.weight"].T).reshape(b, n, nh, d).transpose(0, 2, 1, 3)
        k = (a @ w[p + "self_attn.k_proj.weight"].T).reshape(b, n, nkv, d).transpose(0, 2, 1, 3)
        v = (a @ w[p + "self_attn.v_proj.weight"].T).reshape(b, n, nkv, d).transpose(0, 2, 1, 3)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=1)
        v = np.repeat(v, nh // nkv, axis=1)
        s = q @ k.transpose(0, 1, 3, 2) / np.sqrt(d) + mask
        s = np.exp(s - s.max(axis=-1, keepdims=True))
        s /= s.sum(axis=-1, keepdims=True)
        o = (s @ v).transpose(0, 2, 1, 3).reshape(b, n, nh * d)
        x = x + o @ w[p + "self_attn.o_proj.weight"].T
        a = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        g = a @ w[p + "mlp.gate_proj.weight"].T
        u = a @ w[p + "mlp.up_proj.weight"].T
        x = x + ((g / (1.0 + np.exp(-g))) * u) @ w[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
    return x @ head.T


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    model_dir, tokens_path, out_path = sys.argv[1:]
    with open(os.path.join(model_dir, "config.json")) as f:
        cfg = json.load(f)
    tokens = np.load(tokens_path).astype(np.int64)
    if tokens.ndim == 1:
        tokens = tokens[None, :]
    np.save(out_path, forward(cfg, read_weights(model_dir), tokens))


if __name__ == "__main__":
    main()
