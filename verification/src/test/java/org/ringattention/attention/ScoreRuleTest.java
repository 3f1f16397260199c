package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import org.junit.jupiter.api.Test;

/**
 * The score rule (soft cap, then ALiBi) on cases small enough to write out by hand, and the
 * float32 paths of the engine and of the baseline rounding it identically.
 */
class ScoreRuleTest {

    /** One query, two keys, d = 1: scores and softmax written out from the formulas. */
    @Test
    void softcapThenAlibiOnOneQuery() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 1, 2, 1);
        double[] q = {2};
        double[] k = {1.5, -0.5};
        double[] v = {3, 7};
        double c = 0.8;
        double slope = 0.25;
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(1).withSoftcap(c)
                .withAlibi(AlibiSlopes.perHead(new double[] {slope}));
        // query 0 sits at p = 0 + 2 - 1 = 1: distances 1 and 0
        double s0 = c * Math.tanh(2 * 1.5 / c) - slope * 1;
        double s1 = c * Math.tanh(2 * -0.5 / c) - slope * 0;
        double lse = Math.log(Math.exp(s0) + Math.exp(s1));
        double o = (Math.exp(s0) * 3 + Math.exp(s1) * 7) / (Math.exp(s0) + Math.exp(s1));
        VanillaAttention.Result r = VanillaAttention.oracle().forward(shape, spec, q, k, v);
        assertThat(r.lse()[0]).isCloseTo(lse, offset(1e-15));
        assertThat(r.out()[0]).isCloseTo(o, offset(1e-14));
        // top-left: p = 0, distances 0 and 1
        VanillaAttention.Result t = VanillaAttention.oracle().forward(shape,
                spec.withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT), q, k, v);
        double u0 = c * Math.tanh(2 * 1.5 / c);
        double u1 = c * Math.tanh(2 * -0.5 / c) - slope;
        assertThat(t.lse()[0]).isCloseTo(Math.log(Math.exp(u0) + Math.exp(u1)), offset(1e-15));
    }

    /** dS of the product is dS of the capped score times 1 − tanh²: the gradient of q by hand. */
    @Test
    void softcapGradientGoesThroughTanh() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 1, 2, 1);
        double[] q = {1.2};
        double[] k = {0.9, -1.1};
        double[] v = {1, -2};
        double[] dOut = {1};
        double c = 0.5;
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(1).withSoftcap(c);
        double t0 = Math.tanh(q[0] * k[0] / c);
        double t1 = Math.tanh(q[0] * k[1] / c);
        double p0 = 1 / (1 + Math.exp(c * t1 - c * t0));
        double p1 = 1 - p0;
        double o = p0 * v[0] + p1 * v[1];
        // dL/ds_j = p_j (v_j − o); ds_j/dq = (1 − t_j²) k_j
        double dq = p0 * (v[0] - o) * (1 - t0 * t0) * k[0] + p1 * (v[1] - o) * (1 - t1 * t1) * k[1];
        VanillaAttention.Grads g = VanillaAttention.oracle().backward(shape, spec, q, k, v, dOut);
        assertThat(g.dq()[0]).isCloseTo(dq, offset(1e-14));
    }

    /** The float32 tile path and the float32 oracle round each step of the rule the same way. */
    @Test
    void floatAndBaselineRoundTheRuleAlike() {
        AttentionShape shape = new AttentionShape(2, 3, 3, 7, 9, 4);
        AttentionSpec spec = AttentionSpec.DEFAULT.withSoftcap(0.7)
                .withAlibi(AlibiSlopes.perBatchAndHead(new double[] {0.1, 0.2, 0.3, 0.4, 0.5, 0.6}, 2, 3));
        Mask m = Mask.of(spec, shape);
        float[] s = new float[7 * 9];
        double[] d = new double[7 * 9];
        for (int e = 0; e < s.length; e++) {
            s[e] = (float) Math.sin(e * 1.7) * 3;
            d[e] = s[e];
        }
        float[] dCap = new float[s.length];
        double[] dCapD = new double[s.length];
        m.adjust(1, 2, 0, 7, 0, 9, s, dCap);
        m.adjust(1, 2, 0, 7, 0, 9, d, dCapD, true);
        for (int e = 0; e < s.length; e++) {
            assertThat((double) s[e]).as("score %d", e).isEqualTo(d[e]);
            assertThat((double) dCap[e]).as("dCap %d", e).isEqualTo(dCapD[e]);
        }
    }

    /** A bias adds to the score after ALiBi; a keep mask hides pairs, per head when it has heads. */
    @Test
    void biasAddsAndTheKeepMaskHides() {
        AttentionShape shape = new AttentionShape(1, 2, 1, 1, 3, 1);
        double[] q = {1, -1};
        double[] k = {0.5, 1, 2};
        double[] v = {1, 2, 3};
        double[] bias = {0.1, -0.2, 0.3};
        boolean[] keep = {true, false, true, false, true, true}; // head 0 hides key 1, head 1 key 0
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(1).withBias(ScoreBias.of(bias, 1, 1, 1, 3))
                .withMask(KeepMask.of(keep, 1, 2, 1, 3));
        VanillaAttention.Result r = VanillaAttention.oracle().forward(shape, spec, q, k, v);
        double a0 = 0.5 + 0.1;
        double a2 = 2 + 0.3;
        assertThat(r.lse()[0]).isCloseTo(Math.log(Math.exp(a0) + Math.exp(a2)), offset(1e-15));
        double b1 = -1 - 0.2;
        double b2 = -2 + 0.3;
        assertThat(r.lse()[1]).isCloseTo(Math.log(Math.exp(b1) + Math.exp(b2)), offset(1e-15));
        Mask m = Mask.of(spec, shape);
        assertThat(m.perHead()).isTrue();
        assertThat(m.classify(0, 0, 0, 1, 1, 2)).isEqualTo(Mask.Visibility.HIDDEN);
        assertThat(m.classify(0, 1, 0, 1, 1, 2)).isEqualTo(Mask.Visibility.FULL);
        assertThat(m.classify(0, 1, 0, 1, 0, 3)).isEqualTo(Mask.Visibility.PARTIAL);
    }

    @Test
    void badFeaturesAreRefused() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AttentionSpec.DEFAULT.withSoftcap(-1))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("softcap");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> ScoreBias.of(new double[] {1, Double.NEGATIVE_INFINITY},
                1, 1, 1, 2)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("finite");
        AttentionSpec wrongMask = AttentionSpec.DEFAULT.withMask(KeepMask.of(new boolean[6], 1, 1, 2, 3));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Mask.of(wrongMask, new AttentionShape(1, 1, 1, 3, 2,
                2))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("broadcast");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AlibiSlopes.perHead(new double[] {1, Double.NaN}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("finite");
        AttentionSpec wrongHeads = AttentionSpec.DEFAULT.withAlibi(AlibiSlopes.perHead(new double[] {1, 2}));
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> Mask.of(wrongHeads, new AttentionShape(1, 3, 1, 4,
                4, 2))).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[2]");
    }
}
