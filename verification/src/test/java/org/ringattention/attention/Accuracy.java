package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/** Assertions of the accuracy rule ({@link AccuracyRule}) on a problem's results. */
public final class Accuracy {

    private Accuracy() {
    }

    /** Blockwise O and LSE against the oracle, within 2× the float32 vanilla error (+ ε). */
    public static void assertForward(Problem p, AttentionOutput got, String context) {
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Result base = p.vanilla(VanillaAttention.Precision.FLOAT32);
        AccuracyRule.Verdict o = AccuracyRule.FORWARD.judge(ref.out(), Problem.widen(got.out()), base.out(),
                ErrorStats.maxAbs(Problem.widen(p.v())));
        assertThat(o.pass()).as("O of %s %s: %s", p, context, o).isTrue();
        AccuracyRule.Verdict lse = AccuracyRule.FORWARD.judge(ref.lse(), Problem.widen(got.lse()), base.lse(),
                ErrorStats.maxAbs(ref.lse()) + 1);
        assertThat(lse.pass()).as("LSE of %s %s: %s", p, context, lse).isTrue();
    }

    /** Blockwise dQ, dK, dV against the oracle, within 3× the float32 vanilla error (+ ε). */
    public static void assertGradients(Problem p, Gradients got, String context) {
        VanillaAttention.Grads ref = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Grads base = p.vanillaGrads(VanillaAttention.Precision.FLOAT32);
        VanillaAttention.Grads m = p.gradientMagnitudes();
        assertGradient("dQ", p, context, ref.dq(), Problem.widen(got.dq()), base.dq(), m.dq());
        assertGradient("dK", p, context, ref.dk(), Problem.widen(got.dk()), base.dk(), m.dk());
        assertGradient("dV", p, context, ref.dv(), Problem.widen(got.dv()), base.dv(), m.dv());
    }

    private static void assertGradient(String name, Problem p, String context, double[] ref, double[] got,
            double[] base, double[] magnitudes) {
        AccuracyRule.Verdict v = AccuracyRule.GRADIENT.judge(ref, got, base, ErrorStats.maxAbs(ref), magnitudes);
        assertThat(v.pass()).as("%s of %s %s: %s", name, p, context, v).isTrue();
    }

    /**
     * ∂L/∂sink against the oracle's, within 3× the float32 vanilla error (+ ε); the componentwise
     * magnitude of head h is Σ_{b,i} exp(sink_h − LSE_i)·|D_i|, the terms the sum is made of.
     */
    public static void assertSinkGradient(Problem p, AttentionOutput fwd, float[] got, String context) {
        double[] ref = p.vanillaSinkGrads(VanillaAttention.Precision.FLOAT64);
        double[] base = p.vanillaSinkGrads(VanillaAttention.Precision.FLOAT32);
        VanillaAttention.Result r = p.vanilla(VanillaAttention.Precision.FLOAT64);
        AttentionShape s = p.shape();
        double[] abs = new double[r.out().length];
        double[] dOut = Problem.widen(p.dOut());
        for (int x = 0; x < abs.length; x++) {
            abs[x] = Math.abs(dOut[x] * r.out()[x]);
        }
        // Σ exp(sink − LSE)·Σ|dO ∘ O| bounds the terms; computed as the gradient of |dO ∘ O| with D ≥ 0
        double[] ones = new double[abs.length];
        java.util.Arrays.fill(ones, 1);
        double[] m = p.spec().sinks().gradient(s, r.lse(), abs, ones, false);
        for (int h = 0; h < m.length; h++) {
            m[h] = Math.abs(m[h]);
        }
        AccuracyRule.Verdict v = AccuracyRule.GRADIENT.judge(ref, Problem.widen(got), base, ErrorStats.maxAbs(ref), m);
        assertThat(v.pass()).as("dsinks of %s %s: %s", p, context, v).isTrue();
    }
}
