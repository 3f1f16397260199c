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

    /**
     * The partial {@link #over} computes, bit for bit, of query rows {@code q[qOff ..]} [rows × d]
     * over {@code keys} keys held in blocks of {@code block} keys, as a KV cache that grows by
     * appending holds them: block j covers keys [j·block, (j + 1)·block); its keys {@code kT[j]} are
     * packed transposed [d × block] (key c of the block in column c, the layout
     * {@link Kernels#packTransposed} gives a whole block), its values {@code v[j]} row-major
     * [block × d]; in the last block only the first keys − j·block columns and rows are in use.
     *
     * <p>Why the bits are those of one pass over all keys: a score is a dot product over d whatever
     * tile it is computed in, and the row maximum is exact; the exponentials and their row sums run
     * over the whole row of scores at once, as in {@link #over}; and {@code block} is a multiple of
     * {@link Kernels#CHUNK}, so the product P V cut at block boundaries sums the same chunks in the
     * same order. Only the last block's used columns are copied (into {@code work}); full blocks are
     * read in place.
     */
    public static SoftmaxPartial overBlocks(Kernels kernels, float[] q, int qOff, int rows, float[][] kT,
            float[][] v, int block, int keys, int dim, float scale, Workspace work) {
        if (block < 1 || block % Kernels.CHUNK != 0) {
            throw new IllegalArgumentException("block must be a positive multiple of " + Kernels.CHUNK + ", got "
                    + block);
        }
        int blocks = (keys + block - 1) / block;
        if (keys < 0 || blocks > kT.length || blocks > v.length) {
            throw new IllegalArgumentException(keys + " keys need " + blocks + " blocks of " + block + ", got "
                    + kT.length + " key and " + v.length + " value blocks");
        }
        SoftmaxPartial p = new SoftmaxPartial(rows, dim);
        if (keys == 0) {
            return p;
        }
        float[] s = work.scores(rows * keys);
        float[] tile = work.tile(rows * block);
        float[] max = work.max(rows);
        for (int j = 0; j < blocks; j++) {
            int c0 = j * block;
            int cols = Math.min(block, keys - c0);
            float[] kb = kT[j];
            if (cols < block) { // the last block: its used columns packed with stride cols, as scoreTile reads them
                float[] tail = work.tail(dim * cols);
                for (int x = 0; x < dim; x++) {
                    System.arraycopy(kb, x * block, tail, x * cols, cols);
                }
                kb = tail;
            }
            kernels.scoreTile(q, qOff, rows, kb, 0, cols, dim, scale, tile, max);
            for (int r = 0; r < rows; r++) {
                p.m[r] = Math.max(p.m[r], max[r]);
                System.arraycopy(tile, r * cols, s, r * keys + c0, cols);
            }
        }
        for (int r = 0; r < rows; r++) {
            p.l[r] = kernels.expShifted(s, r * keys, keys, p.m[r]);
        }
        for (int j = 0; j < blocks; j++) {
            int c0 = j * block;
            int cols = Math.min(block, keys - c0);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(s, r * keys + c0, tile, r * cols, cols);
            }
            kernels.accumulateProduct(tile, rows, cols, v[j], 0, dim, p.o, 0);
        }
        return p;
    }

    /**
     * Scratch arrays of {@link #overBlocks}, kept between calls so that a decoding step allocates
     * nothing in proportion to the cache; they grow to the largest call. Not thread-safe: one per
     * thread.
     */
    public static final class Workspace {
        private float[] scores = new float[0];
        private float[] tile = new float[0];
        private float[] tail = new float[0];
        private float[] max = new float[0];

        float[] scores(int n) {
            if (scores.length < n) {
                scores = new float[Math.max(n, 2 * scores.length)];
            }
            return scores;
        }

        float[] tile(int n) {
            if (tile.length < n) {
                tile = new float[n];
            }
            return tile;
        }

        float[] tail(int n) {
            if (tail.length < n) {
                tail = new float[n];
            }
            return tail;
        }

        float[] max(int n) {
            if (max.length < n) {
                max = new float[n];
            }
            return max;
        }
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
