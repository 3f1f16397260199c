package org.ringattention.kernel;

/**
 * exp(x) in float32 by range reduction and a polynomial, written with operations that the SIMD
 * kernels repeat lane by lane, so that the scalar twin and every vector width give the same bits.
 *
 * <pre>
 *   n = round(x · log₂e)                   (by adding and subtracting 1.5·2²³)
 *   r = x − n·ln2                          (Cody–Waite: ln2 split in a high part exact in float32 and a low part)
 *   exp(x) = p(r) · 2^⌊n/2⌋ · 2^(n−⌊n/2⌋),   p(r) = Σ_{i=0..7} rⁱ / i!   (Horner, fused multiply-adds)
 * </pre>
 * |r| ≤ ln2/2, where the degree-7 Taylor remainder is below 6·10⁻⁹ relative (0.1 ulp); with the
 * roundings of the reduction and of Horner's scheme the result is within {@link #MAX_ULP} ulp
 * of the correctly rounded exp(x) (measured over every third float of [−104, 0] and strided sweeps
 * of [0, 88.3] in {@code PolynomialExpTest}). Scaling by two powers of two, the first exact, keeps
 * subnormal results (x below −87.3) as the correctly rounded product instead of flushing them to
 * zero: a float32 baseline keeps them too, and a gradient made only of such terms would otherwise
 * vanish. x is clamped to [−104, 88.37]: exp(−104) rounds to 0, and x = −∞ gives 0.
 */
public final class PolynomialExp {

    /** Largest error in units in the last place against the correctly rounded exp, measured. */
    public static final int MAX_ULP = 1;

    /** Below this, exp(x) rounds to 0. */
    public static final float LOWEST = -104f;
    static final float HIGHEST = 88.37626f;
    static final float LOG2E = 1.44269504088896341f;
    static final float ROUND = 12582912f; // 1.5·2²³: adding it rounds to an integer kept in the low mantissa bits
    static final int ROUND_BITS = 0x4B400000; // bits of ROUND
    static final float LN2_HI = 0.693145751953125f; // few mantissa bits: n·LN2_HI is exact
    static final float LN2_LO = 1.42860682030941723212e-6f;
    static final float C2 = 1f / 2;
    static final float C3 = 1f / 6;
    static final float C4 = 1f / 24;
    static final float C5 = 1f / 120;
    static final float C6 = 1f / 720;
    static final float C7 = 1f / 5040;

    private PolynomialExp() {
    }

    /** exp(x) as described in the class comment. */
    public static float exp(float x) {
        x = Math.min(Math.max(x, LOWEST), HIGHEST);
        float t = Math.fma(x, LOG2E, ROUND);
        float n = t - ROUND;
        float r = Math.fma(n, -LN2_HI, x);
        r = Math.fma(n, -LN2_LO, r);
        float p = Math.fma(C7, r, C6);
        p = Math.fma(p, r, C5);
        p = Math.fma(p, r, C4);
        p = Math.fma(p, r, C3);
        p = Math.fma(p, r, C2);
        p = Math.fma(p, r, 1f);
        p = Math.fma(p, r, 1f);
        int e = Float.floatToRawIntBits(t) - ROUND_BITS; // n, in [−150, 128]
        int e1 = e >> 1;
        int e2 = e - e1;
        return p * Float.intBitsToFloat((e1 + 127) << 23) * Float.intBitsToFloat((e2 + 127) << 23);
    }
}
