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
}
