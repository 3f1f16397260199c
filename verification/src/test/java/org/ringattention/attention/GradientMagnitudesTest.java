package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/**
 * The elementwise scale of the gradient rule ({@link AccuracyRule}): it bounds every gradient
 * element (so it is a scale, not a loophole), and it still rejects an error far below any wrong
 * term.
 */
class GradientMagnitudesTest {

    private static final Problem WINDOWED = Problem.random(new AttentionShape(1, 3, 3, 2, 1025, 1),
            AttentionSpec.DEFAULT.withWindow(15), 7, 1);

    @Test
    void magnitudesBoundTheGradients() {
        for (Problem p : new Problem[] {WINDOWED, Problem.random(new AttentionShape(2, 4, 2, 37, 53, 11),
                AttentionSpec.DEFAULT.withCausal(true), 11, 1)}) {
            VanillaAttention.Grads g = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
            VanillaAttention.Grads m = p.gradientMagnitudes();
            double[][] pairs = {g.dq(), m.dq(), g.dk(), m.dk(), g.dv(), m.dv()};
            for (int t = 0; t < pairs.length; t += 2) {
                for (int e = 0; e < pairs[t].length; e++) {
                    assertThat(Math.abs(pairs[t][e])).isLessThanOrEqualTo(pairs[t + 1][e] * (1 + 1e-12));
                }
            }
        }
    }

    @Test
    void engineGradientsPassAndAPerturbedElementFails() {
        Problem p = WINDOWED;
        double[] ref = p.vanillaGrads(VanillaAttention.Precision.FLOAT64).dq();
        double[] base = p.vanillaGrads(VanillaAttention.Precision.FLOAT32).dq();
        double[] m = p.gradientMagnitudes().dq();
        double[] got = Problem.widen(p.blockwiseGrads(1, 1).dq());
        AccuracyRule rule = AccuracyRule.GRADIENT;
        assertThat(rule.judge(ref, got, base, ErrorStats.maxAbs(ref), m).pass()).isTrue();
        // An error of 1e-4 of an element's magnitude is far below any missing or wrong term and
        // still 200 times ε_e = 8·2⁻²⁴·M_e: it must fail.
        int e = 4;
        got[e] += 1e-4 * m[e];
        AccuracyRule.Verdict v = rule.judge(ref, got, base, ErrorStats.maxAbs(ref), m);
        assertThat(v.pass()).as("%s", v).isFalse();
        assertThat(v.engine().worstIndex()).isEqualTo(e);
    }
}
