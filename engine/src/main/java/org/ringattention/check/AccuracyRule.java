package org.ringattention.check;

/**
 * The accuracy rule every float32 path is held to: its error against the float64 oracle may be
 * at most {@code factor} times the error of plain float32 vanilla attention against the same
 * oracle on the same inputs, plus a small absolute ε:
 * <pre>
 *   err(engine) ≤ factor · err(float32 vanilla) + ε,     ε = 8 · u · M,   u = 2⁻²⁴
 * </pre>
 * where err is the largest absolute elementwise difference and M the magnitude the result is
 * made of: max|v| for O (every output row is a convex combination of value rows, whatever
 * cancellation makes O itself small), max|LSE| + 1 for LSE (m plus a log l ≥ 0), and max|ref| for
 * gradients. ε stands for a handful of final roundings that one path makes and the other does not
 * (division by l, rescaling by exp(m − m'), the last scaling, the conversion to float32), each at
 * most u·M; it matters only where the baseline happens to be almost exact (one key, tiny d), and is
 * far below the baseline's error anywhere else.
 *
 * <p>For gradients the magnitude may also be given element by element ({@link #judge(double[],
 * double[], double[], double, double[])}): M_e = max(max|ref|, Σ|terms of element e|), the
 * componentwise scale of a sum's rounding error. dQ_i = scale · Σ_j P_ij (dP_ij − D_i) K_j cancels
 * by design (D_i is the P-weighted mean of dP_ij), so a rounding of D_i (float32, from the float32
 * output O) moves dQ by u·|D_i|·|Σ_j P_ij K_j|, which can be many times max|dQ|: measured, d = 1 and
 * 15 visible keys, |D_i|·|Σ_j P_ij K_j| = 3.2 against |dQ| = 0.16, where the engine's O and the
 * baseline's O differ by an ulp and the baseline's D happened to round almost exactly.
 *
 * <p>Factors (DEVELOPERS.md): 2 for forward outputs (O, LSE), 3 for gradients.
 */
public record AccuracyRule(double factor, double epsilonUnits) {

    /** Unit roundoff of float32. */
    public static final double U32 = 0x1.0p-24;

    public static final AccuracyRule FORWARD = new AccuracyRule(2, 8);
    public static final AccuracyRule GRADIENT = new AccuracyRule(3, 8);

    /** The outcome of one comparison. */
    public record Verdict(ErrorStats engine, ErrorStats baseline, double factor, double epsilon, double bound,
            boolean pass) {

        @Override
        public String toString() {
            return String.format("%s: error %.3e, bound %.3e = %.0f x baseline %.3e + eps %.3e; worst at index %d"
                    + " (ref %s, got %s)", pass ? "pass" : "FAIL", engine.maxAbs(), bound, factor,
                    baseline.maxAbs(), epsilon, engine.worstIndex(), engine.refAtWorst(), engine.gotAtWorst());
        }
    }

    /**
     * Judges elementwise: element e passes when |engine_e − ref_e| ≤ factor · err(baseline) + ε_e,
     * ε_e = epsilonUnits · u · max(magnitude, magnitudes[e]). The verdict reports the element with
     * the least margin.
     */
    public Verdict judge(double[] ref, double[] engine, double[] baseline, double magnitude, double[] magnitudes) {
        ErrorStats e = ErrorStats.of(ref, engine);
        ErrorStats b = ErrorStats.of(ref, baseline);
        double base = factor * b.maxAbs();
        int worst = -1;
        double worstMargin = Double.POSITIVE_INFINITY;
        double worstEps = epsilonUnits * U32 * magnitude;
        for (int i = 0; i < ref.length; i++) {
            double eps = epsilonUnits * U32 * Math.max(magnitude, magnitudes[i]);
            double margin = base + eps - Math.abs(engine[i] - ref[i]);
            if (!(margin >= worstMargin)) { // NaN errors count as the worst
                worstMargin = margin;
                worst = i;
                worstEps = eps;
            }
        }
        boolean pass = ref.length == 0 || worstMargin >= 0;
        return new Verdict(e, b, factor, worstEps, base + worstEps, pass);
    }

    /** Judges {@code engine} and {@code baseline} against {@code ref}; {@code magnitude} is M. */
    public Verdict judge(double[] ref, double[] engine, double[] baseline, double magnitude) {
        ErrorStats e = ErrorStats.of(ref, engine);
        ErrorStats b = ErrorStats.of(ref, baseline);
        double eps = epsilonUnits * U32 * magnitude;
        double bound = factor * b.maxAbs() + eps;
        return new Verdict(e, b, factor, eps, bound, e.maxAbs() <= bound);
    }
}
