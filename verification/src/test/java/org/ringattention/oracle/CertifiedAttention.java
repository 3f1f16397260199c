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
 *   S = scale · Q Kᵀ (masked pairs left out),  m_i = max_j S_ij,  E = exp(S − m),  l_i = Σ_j E_ij
 *   P = E / l,  O = P V,  LSE = m + log l
 *   dV = Pᵀ dO,  dP = dO Vᵀ,  D_i = Σ_x dO_ix O_ix,  dS = P ∘ (dP − D),  dQ = scale · dS K,  dK = scale · dSᵀ Q
 * </pre>
 * Every sum is formed in double-double in index order; products of two doubles are exact. The
 * result's own error is a few units of 2⁻¹⁰⁶ times the magnitudes involved (the sums of absolute
 * values of the terms), far below the float64 errors (2⁻⁵³) it measures. A row that sees no key
 * gives O = 0, LSE = −∞ and zero gradients. Results are rounded to double at the end.
 */
public final class CertifiedAttention {

    /**
     * O, LSE (−∞ for rows that see nothing), dQ, dK, dV in double, the magnitudes of O
     * (Σ_j P_ij |V_jx|) and the largest score magnitude scale·Σ_x |Q_ix K_jx| over visible pairs.
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
                    DoubleDouble m = null;
                    for (int j = 0; j < nk; j++) {
                        p[j] = null;
                        if (mask.visible(b, i, j)) {
                            DoubleDouble s = dot(q, qRow, k, kvBase + j * d, d).multiply(scale);
                            double sAbs = 0;
                            for (int x = 0; x < d; x++) {
                                sAbs += Math.abs(q[qRow + x] * k[kvBase + j * d + x]);
                            }
                            sMax = Math.max(sMax, Math.abs(scale) * sAbs);
                            p[j] = s;
                            m = m == null || s.compareTo(m) > 0 ? s : m;
                        }
                    }
                    if (m == null) {
                        lse[head * nq + i] = Double.NEGATIVE_INFINITY; // O and the gradients stay 0
                        continue;
                    }
                    DoubleDouble l = DoubleDouble.ZERO;
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
