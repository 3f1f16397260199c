package org.ringattention.oracle;

import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Mask;

/**
 * Attention and its gradients in double-double arithmetic ({@link DoubleDouble}, about 106 bits):
 * the certified oracle that bounds the float64 oracle's own rounding error. Small cases only (every
 * operation allocates). The same definition as {@code VanillaAttention}, with the same inputs read
 * exactly (float32, float16 and float64 values are doubles) and the same scale, the double
 * {@code spec.scaleFor(d)}:
 * <pre>
 *   X = scale · Q Kᵀ,  S = C·tanh(X / C) (soft cap C, else S = X) − slope·|p(i) − j| (ALiBi) + bias
 *   (masked pairs left out),  m_i = max(max_j S_ij, σ_h),  E = exp(S − m),  l_i = Σ_j E_ij + e^(σ_h − m_i)
 *   P = E / l,  O = P V,  LSE = m + log l                  (σ_h the sink logit of head h, −∞ without)
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  D_i = Σ_x dO_ix O_ix,  dX = P ∘ (dP − D) ∘ (1 − tanh²(X / C)),
 *   dQ = scale · dX K,  dK = scale · dXᵀ Q
 * </pre>
 * The score rules of {@code docs/semantics.md} are written out here again from the spec's slopes,
 * biases and sinks, independently of {@code Mask.adjust}; only visibility is asked of the
 * {@link Mask}.
 * Every sum is formed in double-double in index order; products of two doubles are exact. The
 * result's own error is a few units of 2⁻¹⁰⁶ times the magnitudes involved (the sums of absolute
 * values of the terms), far below the float64 errors (2⁻⁵³) it measures. A row that sees no key
 * gives O = 0, LSE = −∞ (the sink logit with sinks) and zero gradients. Results are rounded to double at the end.
 */
public final class CertifiedAttention {

    /**
     * O, LSE (−∞ for rows that see nothing), dQ, dK, dV in double, the magnitudes of O
     * (Σ_j P_ij |V_jx|) and the largest score magnitude over visible pairs: scale·Σ_x |Q_ix K_jx| plus
     * the magnitudes of the ALiBi and bias terms.
     */
    public record Result(double[] out, double[] lse, double[] dq, double[] dk, double[] dv, double[] outMagnitude,
            double scoreMagnitude) {
    }

    private CertifiedAttention() {
    }

    public static Result compute(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut) {
        Mask mask = Mask.of(spec, shape);
        int nq = shape.qLen();
        int nk = shape.kvLen();
        int d = shape.dim();
        double scale = spec.scaleFor(d);
        double cap = spec.softcap();
        int offset = spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : nk - nq;
        DoubleDouble[] capSlope = new DoubleDouble[nk];
        double[] out = new double[q.length];
        double[] mag = new double[q.length];
        double[] lse = new double[shape.batch() * shape.qHeads() * nq];
        DoubleDouble[] dq = zeros(q.length);
        DoubleDouble[] dk = zeros(k.length);
        DoubleDouble[] dv = zeros(v.length);
        DoubleDouble[] p = new DoubleDouble[nk];
        DoubleDouble[] o = new DoubleDouble[d];
        double sMax = 0;
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                int head = b * shape.qHeads() + h;
                int qBase = head * nq * d;
                int kvBase = (b * shape.kvHeads() + shape.kvHead(h)) * nk * d;
                for (int i = 0; i < nq; i++) {
                    int qRow = qBase + i * d;
                    long pos = (long) i + offset; // p(i); with cu_seqlens on the lengths of i's own sequence
                    org.ringattention.attention.SequenceLengths cu = spec.varlen();
                    if (cu != null) {
                        int sq = cu.ofQuery(i);
                        int own = (cu.keyStart(sq + 1) - cu.keyStart(sq)) - (cu.queryStart(sq + 1) - cu.queryStart(sq));
                        pos = cu.keyStart(sq) + (i - cu.queryStart(sq))
                                + (spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : own);
                    }
                    DoubleDouble m = null;
                    for (int j = 0; j < nk; j++) {
                        p[j] = null;
                        if (mask.visible(b, h, i, j)) {
                            DoubleDouble s = dot(q, qRow, k, kvBase + j * d, d).multiply(scale);
                            double sAbs = 0;
                            for (int x = 0; x < d; x++) {
                                sAbs += Math.abs(q[qRow + x] * k[kvBase + j * d + x]);
                            }
                            sAbs *= Math.abs(scale);
                            if (cap > 0) {
                                DoubleDouble t = s.divide(cap).tanh();
                                s = t.multiply(cap);
                                capSlope[j] = DoubleDouble.ONE.subtract(t.multiply(t));
                            }
                            if (spec.alibi() != null) {
                                double slope = spec.alibi().slope(b, h);
                                long distance = Math.abs(pos - j);
                                s = s.subtract(DoubleDouble.product(slope, distance));
                                sAbs += Math.abs(slope) * distance;
                            }
                            if (spec.bias() != null) {
                                double bias = spec.bias().bias(b, h, i, j);
                                s = s.add(bias);
                                sAbs += Math.abs(bias);
                            }
                            sMax = Math.max(sMax, sAbs);
                            p[j] = s;
                            m = m == null || s.compareTo(m) > 0 ? s : m;
                        }
                    }
                    double sink = mask.sink(h);
                    if (m == null) {
                        lse[head * nq + i] = sink; // −∞ without a sink; O and the gradients stay 0
                        continue;
                    }
                    DoubleDouble l = DoubleDouble.ZERO;
                    if (sink != Double.NEGATIVE_INFINITY) {
                        m = m.compareTo(DoubleDouble.of(sink)) >= 0 ? m : DoubleDouble.of(sink);
                        l = DoubleDouble.of(sink).subtract(m).exp(); // in the denominator, no value
                    }
                    for (int j = 0; j < nk; j++) {
                        if (p[j] != null) {
                            p[j] = p[j].subtract(m).exp();
                            l = l.add(p[j]);
                        }
                    }
                    lse[head * nq + i] = m.add(l.log()).doubleValue();
                    for (int j = 0; j < nk; j++) {
                        if (p[j] != null) {
                            p[j] = p[j].divide(l);
                        }
                    }
                    // O_i = Σ_j P_ij V_j, and D_i = Σ_x dO_ix O_ix from the double-double O
                    DoubleDouble delta = DoubleDouble.ZERO;
                    for (int x = 0; x < d; x++) {
                        DoubleDouble acc = DoubleDouble.ZERO;
                        double abs = 0;
                        for (int j = 0; j < nk; j++) {
                            if (p[j] != null) {
                                double vj = v[kvBase + j * d + x];
                                acc = acc.add(p[j].multiply(vj));
                                abs += p[j].hi * Math.abs(vj);
                            }
                        }
                        o[x] = acc;
                        out[qRow + x] = acc.doubleValue();
                        mag[qRow + x] = abs;
                        delta = delta.add(acc.multiply(dOut[qRow + x]));
                    }
                    for (int j = 0; j < nk; j++) {
                        if (p[j] == null) {
                            continue;
                        }
                        int kRow = kvBase + j * d;
                        DoubleDouble dp = dot(dOut, qRow, v, kRow, d);
                        DoubleDouble ds = p[j].multiply(dp.subtract(delta));
                        if (cap > 0) {
                            ds = ds.multiply(capSlope[j]);
                        }
                        DoubleDouble dsScaled = ds.multiply(scale);
                        for (int x = 0; x < d; x++) {
                            dq[qRow + x] = dq[qRow + x].add(dsScaled.multiply(k[kRow + x]));
                            dk[kRow + x] = dk[kRow + x].add(dsScaled.multiply(q[qRow + x]));
                            dv[kRow + x] = dv[kRow + x].add(p[j].multiply(dOut[qRow + x]));
                        }
                    }
                }
            }
        }
        return new Result(out, lse, toDouble(dq), toDouble(dk), toDouble(dv), mag, sMax);
    }

    private static DoubleDouble dot(double[] a, int aOff, double[] b, int bOff, int n) {
        DoubleDouble acc = DoubleDouble.ZERO;
        for (int x = 0; x < n; x++) {
            acc = acc.add(DoubleDouble.product(a[aOff + x], b[bOff + x]));
        }
        return acc;
    }

    private static DoubleDouble[] zeros(long n) {
        DoubleDouble[] z = new DoubleDouble[Math.toIntExact(n)];
        java.util.Arrays.fill(z, DoubleDouble.ZERO);
        return z;
    }

    private static double[] toDouble(DoubleDouble[] x) {
        double[] r = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            r[i] = x[i].doubleValue();
        }
        return r;
    }
}
