package org.ringattention.cli;

import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.Positions;
import org.ringattention.ring.Layout;
import org.ringattention.tensor.BFloat16;
import org.ringattention.tensor.Tensor;

/**
 * Ring attention as GPU ring implementations compute it, for {@code experiment precision} only
 * (not the engine's ring, whose numerics stay as they are): each of P devices holds a contiguous
 * shard of queries; at step s it computes the partial attention (O_s, LSE_s) of its queries
 * against the key/value shard of device (i − s) mod P with the blockwise engine, and merges it
 * into what it carries:
 * <pre>
 *   LSE' = m + log(exp(LSE − m) + exp(LSE_s − m)),   m = max(LSE, LSE_s)
 *   O'   = exp(LSE − LSE') · O + exp(LSE_s − LSE') · O_s
 * </pre>
 * in float32. With {@link Rounding#BF16_OUT} the partial and the carried O are rounded to
 * bfloat16 at every step (the attention kernel's output type); with {@link Rounding#BF16} the
 * LSE too. Full attention (no mask): every step contributes to every row. B = H = 1 inputs.
 */
final class PartialMerge {

    /** What is rounded to bfloat16 between steps. */
    enum Rounding {
        /** Nothing: float32 partials and state, the control. */
        NONE,
        /** The partial and carried O; LSE stays float32. */
        BF16_OUT,
        /** The partial and carried O and LSE. */
        BF16
    }

    private final BlockwiseAttention engine;

    PartialMerge(BlockwiseAttention engine) {
        this.engine = engine;
    }

    /** O [1, H, N, d] and LSE [1, H, N] of full attention over {@code devices} devices. */
    AttentionOutput forward(Tensor q, Tensor k, Tensor v, int devices, Rounding rounding) {
        int n = q.rows();
        int d = q.dim();
        int heads = q.heads();
        Positions[] shards = Layout.CONTIGUOUS.split(n, devices);
        float[] out = new float[heads * n * d];
        float[] lse = new float[heads * n];
        for (int h = 0; h < heads; h++) {
            Tensor qh = head(q, h, Positions.range(0, n));
            Tensor kh = head(k, h, Positions.range(0, n));
            Tensor vh = head(v, h, Positions.range(0, n));
            for (int i = 0; i < devices; i++) {
                Positions rows = shards[i];
                int len = rows.length();
                Tensor qi = head(qh, 0, rows);
                float[] o = null;
                float[] l = null;
                for (int s = 0; s < devices; s++) {
                    Positions keys = shards[Math.floorMod(i - s, devices)];
                    AttentionOutput part = engine.forward(qi, head(kh, 0, keys), head(vh, 0, keys),
                            AttentionSpec.DEFAULT);
                    float[] po = part.out().toArray();
                    float[] pl = part.lse().clone();
                    round(po, pl, rounding);
                    if (o == null) {
                        o = po;
                        l = pl;
                    } else {
                        merge(o, l, po, pl, d);
                        round(o, l, rounding);
                    }
                }
                for (int r = 0; r < len; r++) {
                    System.arraycopy(o, r * d, out, (h * n + rows.at(r)) * d, d);
                    lse[h * n + rows.at(r)] = l[r];
                }
            }
        }
        return new AttentionOutput(Tensor.wrap(out, 1, heads, n, d), lse, 0, 0);
    }

    /** Merges the partial (po, pl) into (o, l), row by row, in float32. */
    static void merge(float[] o, float[] l, float[] po, float[] pl, int d) {
        for (int r = 0; r < l.length; r++) {
            float a = l[r];
            float b = pl[r];
            if (b == Float.NEGATIVE_INFINITY) {
                continue;
            }
            if (a == Float.NEGATIVE_INFINITY) {
                System.arraycopy(po, r * d, o, r * d, d);
                l[r] = b;
                continue;
            }
            float m = Math.max(a, b);
            float merged = m + (float) Math.log((float) Math.exp(a - m) + (float) Math.exp(b - m));
            float wa = (float) Math.exp(a - merged);
            float wb = (float) Math.exp(b - merged);
            for (int x = 0; x < d; x++) {
                o[r * d + x] = wa * o[r * d + x] + wb * po[r * d + x];
            }
            l[r] = merged;
        }
    }

    private static void round(float[] o, float[] l, Rounding rounding) {
        if (rounding == Rounding.NONE) {
            return;
        }
        for (int i = 0; i < o.length; i++) {
            o[i] = BFloat16.round(o[i]);
        }
        if (rounding == Rounding.BF16) {
            for (int i = 0; i < l.length; i++) {
                l[i] = BFloat16.round(l[i]);
            }
        }
    }

    /** Rows {@code rows} of head h of x as a [1, 1, len, d] tensor. */
    private static Tensor head(Tensor x, int h, Positions rows) {
        float[] dst = new float[rows.length() * x.dim()];
        rows.gather(x, 0, h, dst, 0);
        return Tensor.wrap(dst, 1, 1, rows.length(), x.dim());
    }
}
