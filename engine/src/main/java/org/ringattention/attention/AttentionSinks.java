package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;
import org.ringattention.tensor.Tensor;

/**
 * Attention sinks: one logit per query head (gpt-oss). The sink joins each row's softmax
 * denominator and carries no value:
 * <pre>
 *   LSE_i = log(Σ_j exp(s_ij) + exp(sink_h)),    O_i = Σ_j exp(s_ij − LSE_i) v_j
 *   a row that sees no key:  O_i = 0,  LSE_i = sink_h
 *   ∂L/∂sink_h = −Σ_{b,i} exp(sink_h − LSE_i) · D_i,   D_i = rowsum(dO_i ∘ O_i)
 * </pre>
 * The gradients of q, k and v keep their form (P = exp(S − LSE) with this LSE). The sink's own
 * gradient needs only the forward result and dO, so one method ({@link #gradient}) serves every
 * path.
 */
public final class AttentionSinks {

    private final double[] logits;

    private AttentionSinks(double[] logits) {
        this.logits = logits;
    }

    /** One finite logit per query head (copied). */
    public static AttentionSinks of(double[] logits) {
        Objects.requireNonNull(logits, "logits");
        if (logits.length == 0) {
            throw new IllegalArgumentException("sinks need one logit per query head, got none");
        }
        for (int h = 0; h < logits.length; h++) {
            if (!Double.isFinite(logits[h])) {
                throw new IllegalArgumentException("sink logit " + h + " is not finite: " + logits[h]);
            }
        }
        return new AttentionSinks(logits.clone());
    }

    public int heads() {
        return logits.length;
    }

    /** The sink logit of query head h. */
    public double logit(int h) {
        return logits[h];
    }

    void check(AttentionShape shape) {
        if (logits.length != shape.qHeads()) {
            throw new IllegalArgumentException("sinks have shape [" + logits.length + "], expected [" + shape.qHeads()
                    + "] (one logit per query head)");
        }
    }

    /**
     * ∂L/∂sink [Hq] of L = Σ dO ∘ O from a forward result in float64 ({@code lse} [B, Hq, Nq],
     * {@code out} and {@code dOut} [B, Hq, Nq, d]); with {@code float32} each operation is rounded
     * to float32 (the baseline of the accuracy rule). Sums run over b, then i, in increasing order.
     */
    public double[] gradient(AttentionShape shape, double[] lse, double[] out, double[] dOut, boolean float32) {
        check(shape);
        int d = shape.dim();
        int nq = shape.qLen();
        double[] g = new double[logits.length];
        for (int h = 0; h < logits.length; h++) {
            double sink = float32 ? (float) logits[h] : logits[h];
            double acc = 0;
            for (int b = 0; b < shape.batch(); b++) {
                for (int i = 0; i < nq; i++) {
                    int row = (b * shape.qHeads() + h) * nq + i;
                    double delta = 0;
                    for (int x = row * d; x < (row + 1) * d; x++) {
                        delta = r(delta + dOut[x] * out[x], float32);
                    }
                    double p = r(StrictMath.exp(r(sink - lse[row], float32)), float32);
                    acc = r(acc + p * delta, float32);
                }
            }
            g[h] = -acc;
        }
        return g;
    }

    /** {@link #gradient} of a float32 engine's forward result {@code fwd}, summed in float64, rounded once. */
    public float[] gradient(AttentionOutput fwd, Tensor dOut) {
        Tensor o = fwd.out();
        AttentionShape shape = new AttentionShape(o.batch(), o.heads(), o.heads(), o.rows(), 1, o.dim());
        if (dOut.size() != o.size()) {
            throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", O " + o.shape());
        }
        double[] lse = new double[fwd.lse().length];
        for (int i = 0; i < lse.length; i++) {
            lse[i] = fwd.lse()[i];
        }
        double[] g = gradient(shape, lse, widen(o.toArray()), widen(dOut.toArray()), false);
        float[] f = new float[g.length];
        for (int h = 0; h < g.length; h++) {
            f[h] = (float) g[h];
        }
        return f;
    }

    private static double r(double x, boolean float32) {
        return float32 ? (float) x : x;
    }

    private static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AttentionSinks s && Arrays.equals(s.logits, logits);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(logits);
    }

    @Override
    public String toString() {
        return "sinks[" + logits.length + "]";
    }
}
