package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.tensor.Tensor;

/**
 * Attention by its definition, with the score matrix materialized: the oracle every other path is
 * checked against. Deliberately simple; no blocking, no online softmax.
 * <pre>
 *   S    = scale · Q Kᵀ,   then the score rule of the {@link Mask} (soft cap, ALiBi), masked entries −∞
 *   m_i  = max_j S_ij,     l_i = Σ_j exp(S_ij − m_i)
 *   O    = (exp(S − m) V) / l,        LSE_i = m_i + log l_i
 *   P    = exp(S − LSE)
 *   dV   = Pᵀ dO,   dP = dO Vᵀ,   D_i = Σ_k dO_ik O_ik,   dS = P ∘ (dP − D) (∘ (1 − tanh²) under a soft cap)
 *   dQ   = scale · dS K,          dK = scale · dSᵀ Q
 * </pre>
 * A row that sees no key gives O = 0, LSE = −∞ (the sink logit with {@link AttentionSinks}) and
 * zero gradients. With GQA, dK and dV sum over
 * the query heads that share a key/value head.
 *
 * <p>{@link Precision#FLOAT64} is the oracle. {@link Precision#FLOAT32} runs the same algorithm
 * with every operation rounded to float32 (a product and the sum it joins are rounded once, as a
 * fused multiply-add would): plain float32 vanilla attention as NumPy with a BLAS computes it, the
 * baseline of the accuracy rule "the engine's error against the float64 oracle is at most twice
 * the baseline's". To be as accurate as that baseline, sums run as they do there: dot products
 * over d in order; the long sums of matrix products (over keys or queries) in chunks of
 * {@value #CHUNK} terms, as a blocked matrix product sums them; the softmax denominator l by
 * NumPy's pairwise summation.
 *
 * <p>exp and log are {@link StrictMath}'s, so the oracle gives the same bits on every machine and
 * golden data regenerates byte for byte.
 *
 * <p>Layout: plain {@code double[]} arrays, row-major [B, H, N, d] for tensors and [B, H, N] for
 * LSE; float32 results are held in doubles exactly.
 *
 * <p>As an {@link AttentionEngine} it takes and returns float32 tensors: the FLOAT32 arithmetic
 * gives its exact results, the FLOAT64 oracle its results rounded once to float32.
 */
public final class VanillaAttention implements AttentionEngine {

    /** The arithmetic the algorithm runs in. */
    public enum Precision {
        FLOAT32,
        FLOAT64
    }

    /** O [B, Hq, Nq, d] and LSE [B, Hq, Nq]. */
    public record Result(double[] out, double[] lse) {
    }

    /** dQ, dK, dV, shaped like q, k, v. */
    public record Grads(double[] dq, double[] dk, double[] dv) {
    }

    /** Terms per chunk of a long sum. */
    static final int CHUNK = 128;

    private final boolean single;

    public VanillaAttention(Precision precision) {
        this.single = precision == Precision.FLOAT32;
    }

    /** The float64 oracle. */
    public static VanillaAttention oracle() {
        return new VanillaAttention(Precision.FLOAT64);
    }

    private double r(double x) {
        return single ? (float) x : x;
    }

    public Result forward(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v) {
        checkSizes(shape, q, k, v);
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int d = shape.dim();
        double[] out = new double[q.length];
        double[] lse = new double[shape.batch() * shape.qHeads() * nq];
        double[] s = new double[nq * shape.kvLen()];
        double[] rowSums = new double[nq];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                scores(shape, spec, mask, q, k, b, h, s, null);
                int head = b * shape.qHeads() + h;
                int vBase = (b * shape.kvHeads() + shape.kvHead(h)) * shape.kvLen() * d;
                softmaxRows(shape, s, lse, head * nq, rowSums, mask.sink(h));
                for (int i = 0; i < nq; i++) {
                    double l = rowSums[i];
                    int oBase = (head * nq + i) * d;
                    if (l == 0) {
                        continue; // sees no key: O stays 0
                    }
                    for (int x = 0; x < d; x++) {
                        double total = 0;
                        double acc = 0;
                        for (int j = 0; j < shape.kvLen(); j++) {
                            acc = r(acc + s[i * shape.kvLen() + j] * v[vBase + j * d + x]);
                            if ((j + 1) % CHUNK == 0) {
                                total = r(total + acc);
                                acc = 0;
                            }
                        }
                        out[oBase + x] = r(r(total + acc) / l);
                    }
                }
            }
        }
        return new Result(out, lse);
    }

    /** Gradients of Σ dO ∘ O; runs the forward pass itself. */
    public Grads backward(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut) {
        Result fwd = forward(shape, spec, q, k, v);
        if (dOut.length != q.length) {
            throw new IllegalArgumentException("dO holds " + dOut.length + " values, q " + q.length);
        }
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        double scale = spec.scaleFor(d);
        double[] dq = new double[q.length];
        double[] dk = new double[k.length];
        double[] dv = new double[v.length];
        double[] p = new double[nq * nk];
        double[] ds = new double[nq * nk];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int qBase = head * nq * d;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                probabilities(shape, spec, mask, fwd, q, k, v, dOut, b, h, p, ds, null);
                for (int j = 0; j < nk; j++) {
                    for (int x = 0; x < d; x++) {
                        double totalV = 0;
                        double totalK = 0;
                        double accV = 0;
                        double accK = 0;
                        for (int i = 0; i < nq; i++) {
                            accV = r(accV + p[i * nk + j] * dOut[qBase + i * d + x]);
                            accK = r(accK + ds[i * nk + j] * q[qBase + i * d + x]);
                            if ((i + 1) % CHUNK == 0) {
                                totalV = r(totalV + accV);
                                totalK = r(totalK + accK);
                                accV = 0;
                                accK = 0;
                            }
                        }
                        // the heads of a GQA group add up as separate products would
                        dv[kvBase + j * d + x] = r(dv[kvBase + j * d + x] + r(totalV + accV));
                        dk[kvBase + j * d + x] = r(dk[kvBase + j * d + x] + r(scale * r(totalK + accK)));
                    }
                }
                for (int i = 0; i < nq; i++) {
                    for (int x = 0; x < d; x++) {
                        double total = 0;
                        double acc = 0;
                        for (int j = 0; j < nk; j++) {
                            acc = r(acc + ds[i * nk + j] * k[kvBase + j * d + x]);
                            if ((j + 1) % CHUNK == 0) {
                                total = r(total + acc);
                                acc = 0;
                            }
                        }
                        dq[qBase + i * d + x] = r(scale * r(total + acc));
                    }
                }
            }
        }
        return new Grads(dq, dk, dv);
    }

    /**
     * The magnitudes the gradients are made of, elementwise, in float64: the sums of the absolute
     * values of the terms of each gradient element,
     * <pre>
     *   |dQ|_ix = scale · Σ_j P_ij (|dP_ij| + |D_i|) |K_jx|
     *   |dK|_jx = scale · Σ_i P_ij (|dP_ij| + |D_i|) |Q_ix|     (summed over a GQA group)
     *   |dV|_jx = Σ_i P_ij |dO_ix|
     * </pre>
     * A rounding of D_i or dP_ij by u reaches dQ and dK through these sums, however much the
     * terms cancel in the gradient itself: the componentwise error scale of the accuracy rule
     * ({@link org.ringattention.check.AccuracyRule}). Only for the float64 oracle.
     */
    public Grads gradientMagnitudes(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut) {
        if (single) {
            throw new IllegalStateException("gradient magnitudes come from the float64 oracle");
        }
        Result fwd = forward(shape, spec, q, k, v);
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        double scale = spec.scaleFor(d);
        double[] mq = new double[q.length];
        double[] mk = new double[k.length];
        double[] mv = new double[v.length];
        double[] p = new double[nq * nk];
        double[] ds = new double[nq * nk];
        double[] w = new double[nq * nk];
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int qBase = head * nq * d;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                probabilities(shape, spec, mask, fwd, q, k, v, dOut, b, h, p, ds, w);
                for (int i = 0; i < nq; i++) {
                    for (int j = 0; j < nk; j++) {
                        int ij = i * nk + j;
                        for (int x = 0; x < d; x++) {
                            mq[qBase + i * d + x] += scale * w[ij] * Math.abs(k[kvBase + j * d + x]);
                            mk[kvBase + j * d + x] += scale * w[ij] * Math.abs(q[qBase + i * d + x]);
                            mv[kvBase + j * d + x] += p[ij] * Math.abs(dOut[qBase + i * d + x]);
                        }
                    }
                }
            }
        }
        return new Grads(mq, mk, mv);
    }

    /**
     * For head (b, h): p = P = exp(S − LSE) (0 where masked or where a row sees nothing) and
     * ds = P ∘ (dP − D), D_i = Σ_x dO_ix O_ix; and, when {@code weights} is not null,
     * weights = P ∘ (|dP| + |D|), the magnitudes dS is made of.
     */
    private void probabilities(AttentionShape shape, AttentionSpec spec, Mask mask, Result fwd, double[] q,
            double[] k, double[] v, double[] dOut, int b, int h, double[] p, double[] ds, double[] weights) {
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        int head = b * shape.qHeads() + h;
        int qBase = head * nq * d;
        int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
        double[] dCap = mask.softcaps() ? new double[nq * nk] : null;
        scores(shape, spec, mask, q, k, b, h, p, dCap);
        for (int i = 0; i < nq; i++) {
            double lse = fwd.lse()[head * nq + i];
            double delta = 0;
            for (int x = 0; x < d; x++) {
                delta = r(delta + dOut[qBase + i * d + x] * fwd.out()[qBase + i * d + x]);
            }
            for (int j = 0; j < nk; j++) {
                int ij = i * nk + j;
                p[ij] = lse == Double.NEGATIVE_INFINITY ? 0 : r(StrictMath.exp(r(p[ij] - lse)));
                double dp = 0;
                for (int x = 0; x < d; x++) {
                    dp = r(dp + dOut[qBase + i * d + x] * v[kvBase + j * d + x]);
                }
                ds[ij] = r(p[ij] * r(dp - delta));
                if (dCap != null) {
                    ds[ij] = r(ds[ij] * dCap[ij]);
                }
                if (weights != null) {
                    weights[ij] = p[ij] * (Math.abs(dp) + Math.abs(delta)) * (dCap != null ? dCap[ij] : 1);
                }
            }
        }
    }

    /**
     * s [Nq × Nk] = scale · q kᵀ for head (b, h) through the score rule, masked entries −∞; dCap,
     * when not null, receives ∂s/∂(scale·q·k) of the soft cap.
     */
    private void scores(AttentionShape shape, AttentionSpec spec, Mask mask, double[] q, double[] k, int b, int h,
            double[] s, double[] dCap) {
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        double scale = r(spec.scaleFor(d));
        int qBase = (b * shape.qHeads() + h) * nq * d;
        int kBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
        for (int i = 0; i < nq; i++) {
            for (int j = 0; j < nk; j++) {
                double dot = 0;
                for (int x = 0; x < d; x++) {
                    dot = r(dot + q[qBase + i * d + x] * k[kBase + j * d + x]);
                }
                s[i * nk + j] = r(scale * dot);
            }
        }
        if (mask.adjustsScores()) {
            mask.adjust(b, h, 0, nq, 0, nk, s, dCap, single);
        }
        mask.apply(b, h, 0, nq, 0, nk, s);
    }

    /**
     * Turns each score row into exp(S − m), writes l to {@code rowSums} and LSE = m + log l to
     * {@code lse}; a row that sees nothing becomes 0 with l = 0, LSE = −∞. With a sink logit σ
     * (−∞ for none), m = max(m, σ) and l gains exp(σ − m); a row that sees nothing has LSE = σ.
     */
    private void softmaxRows(AttentionShape shape, double[] s, double[] lse, int lseOff, double[] rowSums,
            double sinkLogit) {
        int nk = shape.kvLen();
        double sink = r(sinkLogit);
        for (int i = 0; i < shape.qLen(); i++) {
            int row = i * nk;
            double m = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < nk; j++) {
                m = Math.max(m, s[row + j]);
            }
            if (m == Double.NEGATIVE_INFINITY) {
                Arrays.fill(s, row, row + nk, 0);
                rowSums[i] = 0;
                lse[lseOff + i] = sink; // −∞ without a sink
                continue;
            }
            m = Math.max(m, sink);
            for (int j = 0; j < nk; j++) {
                s[row + j] = r(StrictMath.exp(r(s[row + j] - m)));
            }
            double l = pairwiseSum(s, row, nk);
            if (sink != Double.NEGATIVE_INFINITY) {
                l = r(l + r(StrictMath.exp(r(sink - m)))); // the sink: in the denominator, no value
            }
            rowSums[i] = l;
            lse[lseOff + i] = r(m + StrictMath.log(l));
        }
    }

    /**
     * Σ x[off .. off + n) in NumPy's pairwise order (8 interleaved sums up to 128 terms, halves above);
     * {@link SampledAttention} sums its rows' l with it too, so a sampled row has this row's bits.
     */
    double pairwiseSum(double[] x, int off, int n) {
        if (n < 8) {
            double res = 0;
            for (int i = 0; i < n; i++) {
                res = r(res + x[off + i]);
            }
            return res;
        }
        if (n <= CHUNK) {
            double[] acc = new double[8];
            System.arraycopy(x, off, acc, 0, 8);
            int i = 8;
            for (; i < n - n % 8; i += 8) {
                for (int t = 0; t < 8; t++) {
                    acc[t] = r(acc[t] + x[off + i + t]);
                }
            }
            double res = r(r(r(acc[0] + acc[1]) + r(acc[2] + acc[3])) + r(r(acc[4] + acc[5]) + r(acc[6] + acc[7])));
            for (; i < n; i++) {
                res = r(res + x[off + i]);
            }
            return res;
        }
        int half = n / 2;
        half -= half % 8;
        return r(pairwiseSum(x, off, half) + pairwiseSum(x, off + half, n - half));
    }

    /** ∂L/∂sink [Hq] of L = Σ dO ∘ O ({@link AttentionSinks#gradient}); zeros without sinks. */
    public double[] sinkGradient(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut) {
        if (spec.sinks() == null) {
            return new double[shape.qHeads()];
        }
        Result fwd = forward(shape, spec, q, k, v);
        return spec.sinks().gradient(shape, fwd.lse(), fwd.out(), dOut, single);
    }

    @Override
    public AttentionOutput attend(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        requireFinite(q, k, v);
        Result r = forward(shape, spec, widen(q), widen(k), widen(v));
        return new AttentionOutput(narrow(r.out(), q), narrowRows(r.lse()), 0, 0);
    }

    /** Recomputes the forward pass: {@code fwd} is not needed by the definition. */
    @Override
    public Gradients gradients(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        requireFinite(q, k, v);
        dOut.requireFinite("dO");
        Grads g = backward(shape, spec, widen(q), widen(k), widen(v), widen(dOut));
        return new Gradients(narrow(g.dq(), q), narrow(g.dk(), k), narrow(g.dv(), v));
    }

    @Override
    public String describe() {
        return single ? "vanilla float32" : "vanilla float64 oracle";
    }

    private static void requireFinite(Tensor q, Tensor k, Tensor v) {
        q.requireFinite("q");
        k.requireFinite("k");
        v.requireFinite("v");
    }

    private static double[] widen(Tensor t) {
        float[] f = t.toArray();
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    private static Tensor narrow(double[] x, Tensor like) {
        return Tensor.wrap(narrowRows(x), like.batch(), like.heads(), like.rows(), like.dim());
    }

    private static float[] narrowRows(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    private static void checkSizes(AttentionShape shape, double[] q, double[] k, double[] v) {
        if (q.length != shape.qSize() || k.length != shape.kvSize() || v.length != shape.kvSize()) {
            throw new IllegalArgumentException("array sizes q=" + q.length + " k=" + k.length + " v=" + v.length
                    + " do not match " + shape);
        }
    }
}
