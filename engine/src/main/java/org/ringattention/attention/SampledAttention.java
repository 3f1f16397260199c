package org.ringattention.attention;

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
 * <p>Layout: inputs as for {@link VanillaAttention}, row-major [B, H, N, d]; results [B, Hq, R, d]
 * and [B, Hq, R], row r being query row {@code rows[r]}.
 */
public final class SampledAttention {

    /** O of the sampled rows [B, Hq, R, d] and their LSE [B, Hq, R]. */
    public record Rows(int[] rows, double[] out, double[] lse) {
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
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                for (int row = 0; row < count; row++) {
                    int qBase = (head * shape.qLen() + rows[row]) * d;
                    for (int j = 0; j < nk; j++) {
                        double dot = 0;
                        for (int x = 0; x < d; x++) {
                            dot = r(dot + q[qBase + x] * k[kvBase + j * d + x]);
                        }
                        s[j] = r(scale * dot);
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
                    for (int x = 0; x < d; x++) {
                        double total = 0;
                        double acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc = r(acc + s[j] * v[kvBase + j * d + x]);
                            if ((j + 1) % VanillaAttention.CHUNK == 0) {
                                total = r(total + acc);
                                acc = 0;
                            }
                        }
                        out[at * d + x] = r(r(total + acc) / l);
                    }
                }
            }
        }
        return new Rows(rows.clone(), out, lse);
    }
}
