package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/**
 * Vanilla attention of chosen query rows only: the oracle where the full one cannot go. For each
 * sampled query row i (of every batch and query head) it computes, over all N_k keys,
 * <pre>
 *   s_j = scale · q_i · k_j (masked −∞),   m = max_j s_j,   l = Σ_j exp(s_j − m)
 *   o_i = Σ_j exp(s_j − m) v_j / l,        LSE_i = m + log l
 * </pre>
 * one row at a time, so it holds one score row (N_k doubles), never N × N, and costs
 * O(R · N_k · d) per head for R rows.
 *
 * <p>Which keys a row sees is decided by the engine's {@link Mask}, over the sampled rows'
 * {@link Positions} against all keys, so the mask rule stays in one place.
 *
 * <p>Each row is computed with exactly the operations, in exactly the order, of
 * {@link VanillaAttention} (dot products over d in order, l by NumPy's pairwise summation, the sum
 * over keys in chunks of {@value VanillaAttention#CHUNK}), in float64 or with every operation
 * rounded to float32: a sampled row is the same bits as that row of the full vanilla attention,
 * the float64 oracle or the float32 baseline of the accuracy rule. A row that sees no key gives
 * O = 0, LSE = −∞.
 *
 * <p>Layout: inputs row-major [B, H, N, d], as double arrays (as for {@link VanillaAttention}) or
 * as float32 {@link Tensor}s of any storage (a memory-mapped file: nothing of the inputs is then
 * held but the block being read, {@value #KEYS} keys at a time; their values widen to double
 * exactly, so both give the same bits); results [B, Hq, R, d] and [B, Hq, R], row r being query
 * row {@code rows[r]}. The sum over keys of o runs over all d columns at once, key by key, each
 * column in the order above, so V is read row by row.
 */
public final class SampledAttention {

    /** Keys read at a time: one block of K or V, {@value} rows. */
    static final int KEYS = 512;

    /** O of the sampled rows [B, Hq, R, d] and their LSE [B, Hq, R]. */
    public record Rows(int[] rows, double[] out, double[] lse) {
    }

    /** Rows of a [B, H, N, d] input as doubles. */
    private interface Source {
        /** Rows [from, from + count) of head (b, h) into {@code dst[0, count · d)}. */
        void read(int b, int h, int from, int count, double[] dst);
    }

    private final boolean single;
    /** The full vanilla attention of the same precision, whose pairwise sum of l the rows share. */
    private final VanillaAttention vanilla;

    public SampledAttention(VanillaAttention.Precision precision) {
        this.single = precision == VanillaAttention.Precision.FLOAT32;
        this.vanilla = new VanillaAttention(precision);
    }

    private double r(double x) {
        return single ? (float) x : x;
    }

    /**
     * The attention of query rows {@code rows} (strictly increasing, each in [0, N_q)) of every
     * batch and query head.
     */
    public Rows forward(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v, int[] rows) {
        if (q.length != shape.qSize() || k.length != shape.kvSize() || v.length != shape.kvSize()) {
            throw new IllegalArgumentException("array sizes q=" + q.length + " k=" + k.length + " v=" + v.length
                    + " do not match " + shape);
        }
        return forward(shape, spec, of(q, shape.qHeads(), shape.qLen(), shape.dim()),
                of(k, shape.kvHeads(), shape.kvLen(), shape.dim()), of(v, shape.kvHeads(), shape.kvLen(), shape.dim()),
                rows);
    }

    /**
     * {@link #forward(AttentionShape, AttentionSpec, double[], double[], double[], int[])} of
     * float32 tensors q [B, Hq, N_q, d], k and v [B, Hkv, N_k, d], heap or segment: the same bits
     * as of their values widened to double arrays.
     */
    public Rows forward(AttentionShape shape, AttentionSpec spec, Tensor q, Tensor k, Tensor v, int[] rows) {
        for (Tensor t : new Tensor[] {q, k, v}) {
            boolean isQ = t == q;
            if (t.batch() != shape.batch() || t.heads() != (isQ ? shape.qHeads() : shape.kvHeads())
                    || t.rows() != (isQ ? shape.qLen() : shape.kvLen()) || t.dim() != shape.dim()) {
                throw new IllegalArgumentException((isQ ? "q " : t == k ? "k " : "v ") + t.shape()
                        + " does not match " + shape);
            }
        }
        return forward(shape, spec, of(q), of(k), of(v), rows);
    }

    private static Source of(double[] x, int heads, int n, int d) {
        return (b, h, from, count, dst) ->
                System.arraycopy(x, Math.toIntExact(((long) (b * heads + h) * n + from) * d), dst, 0, count * d);
    }

    private static Source of(Tensor t) {
        float[] block = new float[Math.min(KEYS, t.rows()) * t.dim()];
        return (b, h, from, count, dst) -> {
            t.rows(b, h, from, count).copyTo(block, 0);
            for (int i = 0, n = count * t.dim(); i < n; i++) {
                dst[i] = block[i];
            }
        };
    }

    private Rows forward(AttentionShape shape, AttentionSpec spec, Source q, Source k, Source v, int[] rows) {
        Positions sampled = Positions.of(rows);
        if (rows.length > 0 && rows[rows.length - 1] >= shape.qLen()) {
            throw new IllegalArgumentException("row " + rows[rows.length - 1] + " is beyond Nq = " + shape.qLen());
        }
        Mask mask = Mask.of(spec, shape).forShards(sampled, Positions.range(0, shape.kvLen()));
        int nk = shape.kvLen();
        int d = shape.dim();
        int count = rows.length;
        double scale = r(spec.scaleFor(d));
        double[] out = new double[shape.batch() * shape.qHeads() * count * d];
        double[] lse = new double[shape.batch() * shape.qHeads() * count];
        double[] s = new double[nk];
        double[] qRow = new double[d];
        double[] block = new double[Math.min(KEYS, nk) * d];
        double[] acc = new double[d];
        double[] total = new double[d];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int g = shape.kvHead(h);
                for (int row = 0; row < count; row++) {
                    q.read(b, h, rows[row], 1, qRow);
                    for (int j0 = 0; j0 < nk; j0 += KEYS) {
                        int n = Math.min(KEYS, nk - j0);
                        k.read(b, g, j0, n, block);
                        for (int j = 0; j < n; j++) {
                            double dot = 0;
                            for (int x = 0, at = j * d; x < d; x++, at++) {
                                dot = r(dot + qRow[x] * block[at]);
                            }
                            s[j0 + j] = r(scale * dot);
                        }
                    }
                    if (mask.adjustsScores()) { // the score rule: soft cap, ALiBi, bias
                        mask.adjust(b, h, row, 1, 0, nk, s, null, single);
                    }
                    mask.apply(b, h, row, 1, 0, nk, s);
                    int at = head * count + row;
                    double sink = r(mask.sink(h)); // −∞ without sinks
                    double m = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < nk; j++) {
                        m = Math.max(m, s[j]);
                    }
                    if (m == Double.NEGATIVE_INFINITY) {
                        lse[at] = sink; // sees no key: O stays 0
                        continue;
                    }
                    m = Math.max(m, sink);
                    for (int j = 0; j < nk; j++) {
                        s[j] = r(StrictMath.exp(r(s[j] - m)));
                    }
                    double l = vanilla.pairwiseSum(s, 0, nk);
                    if (sink != Double.NEGATIVE_INFINITY) {
                        l = r(l + r(StrictMath.exp(r(sink - m)))); // the sink: in the denominator, no value
                    }
                    lse[at] = r(m + StrictMath.log(l));
                    // o_x = Σ_j s_j v_jx for every column x at once, each in key order, folded every CHUNK keys
                    java.util.Arrays.fill(acc, 0);
                    java.util.Arrays.fill(total, 0);
                    for (int j0 = 0; j0 < nk; j0 += KEYS) {
                        int n = Math.min(KEYS, nk - j0);
                        v.read(b, g, j0, n, block);
                        for (int j = 0; j < n; j++) {
                            double p = s[j0 + j];
                            for (int x = 0, e = j * d; x < d; x++, e++) {
                                acc[x] = r(acc[x] + p * block[e]);
                            }
                            if ((j0 + j + 1) % VanillaAttention.CHUNK == 0) {
                                for (int x = 0; x < d; x++) {
                                    total[x] = r(total[x] + acc[x]);
                                    acc[x] = 0;
                                }
                            }
                        }
                    }
                    for (int x = 0; x < d; x++) {
                        out[at * d + x] = r(r(total[x] + acc[x]) / l);
                    }
                }
            }
        }
        return new Rows(rows.clone(), out, lse);
    }
}
