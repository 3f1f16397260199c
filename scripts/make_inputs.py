#!/usr/bin/env python3
"""Writes random float32 q, k, v .npy files of shape [B, H, N, d] into a folder, chunk by chunk
through memory maps, so that inputs larger than memory can be made (standard normal values from
a fixed seed).

    scripts/make_inputs.py DIR N D H [B] [SEED]
"""
import sys
from pathlib import Path

import numpy as np


def main() -> int:
    if len(sys.argv) < 5:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    out = Path(sys.argv[1])
    n, d, h = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    b = int(sys.argv[5]) if len(sys.argv) > 5 else 1
    seed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = max(1, (1 << 24) // max(d, 1))  # 64 MiB of float32 a step
    for name in ("q", "k", "v"):
        tmp = out / f".{name}.npy.tmp"
        a = np.lib.format.open_memmap(tmp, mode="w+", dtype="<f4", shape=(b, h, n, d))
        for bb in range(b):
            for hh in range(h):
                for i in range(0, n, rows):
                    m = min(rows, n - i)
                    a[bb, hh, i:i + m] = rng.standard_normal((m, d), dtype=np.float32)
        a.flush()
        del a
        tmp.replace(out / f"{name}.npy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
