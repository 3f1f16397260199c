package org.ringattention.attention;

import org.ringattention.kernel.Kernels;

/**
 * The partial online-softmax state (m, l, õ) of a few query rows over one key/value shard, and the
 * merge of such partials: how a decoding step attends over a KV cache spread over devices. Each
 * device computes the partial of the new token's query rows over the keys it holds; the partials
 * merge in a fixed order (device 0, 1, ...), so the result does not depend on which device
 * finishes first. For one query row over keys K, values V (every key visible):
 * <pre>
 *   s_j = scale · q·k_j,   m = max_j s_j,   l = Σ_j exp(s_j − m),   õ = Σ_j exp(s_j − m) v_j
 * </pre>
 * merged as in {@link OnlineSoftmax} (where the rule is written) and finished as o = õ / l. A row
 * that has seen no key has m = −∞, l = 0 and finishes as o = 0.
 *
 * <p>The arithmetic is the kernels' ({@link Kernels#scoreTile}, {@link Kernels#expShifted},
 * {@link Kernels#accumulateProduct}), so the same bits come from every kernel implementation.
 *
 * <p>Layout: m and l per row, õ row-major [rows × d]. Not thread-safe.
 */
public final class SoftmaxPartial {

    private final int rows;
    private final int dim;
    private final float[] m;
    private final float[] l;
    private final float[] o;

    private SoftmaxPartial(int rows, int dim) {
        if (rows < 1 || dim < 1) {
            throw new IllegalArgumentException("need rows >= 1 and dim >= 1, got " + rows + ", " + dim);
        }
        this.rows = rows;
        this.dim = dim;
        this.m = new float[rows];
        this.l = new float[rows];
        this.o = new float[rows * dim];
        java.util.Arrays.fill(m, Float.NEGATIVE_INFINITY);
    }

    /** The state of {@code rows} rows that have seen no key. */
    public static SoftmaxPartial empty(int rows, int dim) {
        return new SoftmaxPartial(rows, dim);
    }

    /**
     * The partial of query rows {@code q[qOff ..]} [rows × d] over {@code keys} keys
     * {@code k[kOff ..]} and values {@code v[vOff ..]} [keys × d], all visible; inputs must be
     * finite.
     */
    public static SoftmaxPartial over(Kernels kernels, float[] q, int qOff, int rows, float[] k, int kOff, float[] v,
            int vOff, int keys, int dim, float scale) {
        SoftmaxPartial p = new SoftmaxPartial(rows, dim);
        if (keys == 0) {
            return p;
        }
        float[] kT = new float[keys * dim];
        kernels.packTransposed(k, kOff, keys, dim, kT, 0);
        float[] s = new float[rows * keys];
        kernels.scoreTile(q, qOff, rows, kT, 0, keys, dim, scale, s, p.m);
        for (int r = 0; r < rows; r++) {
            p.l[r] = kernels.expShifted(s, r * keys, keys, p.m[r]);
        }
        kernels.accumulateProduct(s, rows, keys, v, vOff, dim, p.o, 0);
        return p;
    }

    /** Merges {@code other}, a partial of the same rows over other keys, into this one. */
    public void merge(SoftmaxPartial other) {
        if (other.rows != rows || other.dim != dim) {
            throw new IllegalArgumentException("partials of " + rows + "x" + dim + " and " + other.rows + "x"
                    + other.dim + " rows cannot merge");
        }
        OnlineSoftmax.merge(m, l, o, other.m, other.l, other.o, rows, dim);
    }

    /** Writes o = õ / l (0 for a row that has seen no key) to {@code out[outOff ..]} [rows × d]. */
    public void finish(float[] out, int outOff) {
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < dim; x++) {
                out[outOff + r * dim + x] = l[r] == 0f ? 0f : o[r * dim + x] / l[r];
            }
        }
    }

    /** LSE = m + log l of row {@code r} (−∞ for a row that has seen no key). */
    public float lse(int r) {
        return l[r] == 0f ? Float.NEGATIVE_INFINITY : (float) (m[r] + Math.log(l[r]));
    }

    public int rows() {
        return rows;
    }
}
