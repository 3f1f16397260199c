package org.ringattention.oracle;

import java.util.Locale;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.VanillaAttention;

/**
 * The error of a float64 result (the oracle's, or golden references) against the certified
 * double-double one, per output, in two measures:
 * <ul>
 *   <li>relative to the output's scale M, as the golden tolerances use it: max|v| for O, max|LSE| + 1
 *       for LSE, max|certified| for the gradients;
 *   <li>elementwise, relative to what each element is made of: Σ_j P_ij |V_jx| for O, the gradient
 *       magnitudes ({@link VanillaAttention#gradientMagnitudes}) for dQ, dK, dV, |LSE| + 1 for LSE.
 * </ul>
 * Both in units of 1 (not ulps). Rows that see no key must be −∞ in both.
 *
 * <p>{@link #bound} is the first-order worst case of the float64 oracle's elementwise error
 * (docs/verification.md): with u = 2⁻⁵³, n the longest sum (keys, or queries of a GQA group) and
 * σ the largest score magnitude scale·Σ_x|Q_ix K_jx|,
 * <pre>
 *   u · (d·(1 + 2σ) + 128 + n/128 + 16)
 * </pre>
 * d·u for a dot product, 2σ·d·u for the error of S_ij − LSE_i that exp turns into a relative error
 * of P_ij, 128 + n/128 for a chunked sum of n terms, 16 for exp, log, divisions and final products.
 */
public record OracleError(double[] scaled, double[] elementwise) {

    private static final double U = 0x1p-53;

    /** The bound of the float64 oracle's elementwise error on a case of this shape (see the class comment). */
    public static double bound(AttentionShape shape, CertifiedAttention.Result cert) {
        int n = Math.max(shape.kvLen(), shape.qLen() * shape.group());
        return U * (shape.dim() * (1 + 2 * cert.scoreMagnitude()) + 128 + n / 128.0 + 16);
    }

    public static final String[] OUTPUTS = {"O", "LSE", "dQ", "dK", "dV"};

    /** The errors of {@code o, lse, dq, dk, dv} (float64) against {@code cert} on these inputs. */
    public static OracleError of(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut, CertifiedAttention.Result cert, double[][] got) {
        VanillaAttention.Grads mags = VanillaAttention.oracle().gradientMagnitudes(shape, spec, q, k, v, dOut);
        double[][] want = {cert.out(), cert.lse(), cert.dq(), cert.dk(), cert.dv()};
        double[][] elementScale = {cert.outMagnitude(), null, mags.dq(), mags.dk(), mags.dv()};
        double[] scaled = new double[5];
        double[] elementwise = new double[5];
        for (int o = 0; o < 5; o++) {
            double m = o == 0 ? maxAbs(v) : o == 1 ? maxAbs(want[1]) + 1 : maxAbs(want[o]);
            double worst = 0;
            double worstElement = 0;
            for (int e = 0; e < want[o].length; e++) {
                double w = want[o][e];
                double g = got[o][e];
                if (w == Double.NEGATIVE_INFINITY || g == Double.NEGATIVE_INFINITY) {
                    if (w != g) {
                        throw new AssertionError(OUTPUTS[o] + "[" + e + "]: " + g + " where the certified value is " + w);
                    }
                    continue;
                }
                double err = Math.abs(g - w);
                worst = Math.max(worst, err);
                double es = elementScale[o] == null ? Math.abs(w) + 1 : elementScale[o][e];
                if (err > 0) {
                    worstElement = Math.max(worstElement, es > 0 ? err / es : Double.POSITIVE_INFINITY);
                }
            }
            scaled[o] = m > 0 ? worst / m : worst;
            elementwise[o] = worstElement;
        }
        return new OracleError(scaled, elementwise);
    }

    /** The float64 oracle's errors on these inputs. */
    public static OracleError ofOracle(AttentionShape shape, AttentionSpec spec, double[] q, double[] k, double[] v,
            double[] dOut, CertifiedAttention.Result cert) {
        VanillaAttention oracle = VanillaAttention.oracle();
        VanillaAttention.Result f = oracle.forward(shape, spec, q, k, v);
        VanillaAttention.Grads g = oracle.backward(shape, spec, q, k, v, dOut);
        return of(shape, spec, q, k, v, dOut, cert, new double[][] {f.out(), f.lse(), g.dq(), g.dk(), g.dv()});
    }

    public double maxScaled() {
        return java.util.Arrays.stream(scaled).max().orElse(0);
    }

    public double maxElementwise() {
        return java.util.Arrays.stream(elementwise).max().orElse(0);
    }

    /** "O 1.1e-16/2.3e-16, LSE ...": scaled/elementwise per output. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int o = 0; o < 5; o++) {
            sb.append(o == 0 ? "" : ", ").append(OUTPUTS[o]).append(' ')
                    .append(String.format(Locale.ROOT, "%.1e/%.1e", scaled[o], elementwise[o]));
        }
        return sb.toString();
    }

    private static double maxAbs(double[] x) {
        double m = 0;
        for (double a : x) {
            if (Double.isFinite(a)) {
                m = Math.max(m, Math.abs(a));
            }
        }
        return m;
    }
}
