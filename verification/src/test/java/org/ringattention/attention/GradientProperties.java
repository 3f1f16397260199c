package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.offset;

import java.util.SplittableRandom;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * The backward pass: blockwise gradients against the float64 oracle's (3× rule), and the oracle's
 * gradients against central finite differences of its own forward pass in float64.
 */
class GradientProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Problem> small() {
        return ProblemArbitraries.problems().filter(p -> (long) p.shape().qLen() * p.shape().kvLen() <= 400);
    }

    @Provide
    Arbitrary<Problem> smallSemantics() {
        return ProblemArbitraries.semantics().filter(p -> (long) p.shape().qLen() * p.shape().kvLen() <= 400);
    }

    @Property(tries = 20)
    void oracleGradientsMatchFiniteDifferencesUnderTheKitSemantics(@ForAll("smallSemantics") Problem p,
            @ForAll long seed) {
        oracleGradientsMatchFiniteDifferences(p, seed);
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Property
    void blockwiseGradientsMatchOracle(@ForAll("problems") Problem p, @ForAll("blocks") int blockQ,
            @ForAll("blocks") int blockKv) {
        Accuracy.assertGradients(p, p.blockwiseGrads(blockQ, blockKv), "blocks " + blockQ + "x" + blockKv);
    }

    /**
     * L(q, k, v) = Σ dO ∘ O; its derivative along one coordinate x is compared with
     * (L(x + h) − L(x − h)) / 2h, h = 1e-5. The central difference errs by h²/6·|L'''| (about 1e-10
     * here: scores of order 1, d small) plus the float64 rounding of L amplified by 1/h
     * (2⁻⁵²·|L|/h, about 1e-10·|L|). The tolerance 1e-6·(1 + |g| + |L|) is four orders above both
     * and orders below the error of any wrong gradient term.
     */
    @Property(tries = 30)
    void oracleGradientsMatchFiniteDifferences(@ForAll("small") Problem p, @ForAll long seed) {
        VanillaAttention oracle = VanillaAttention.oracle();
        double[] q = Problem.widen(p.q());
        double[] k = Problem.widen(p.k());
        double[] v = Problem.widen(p.v());
        double[] dOut = Problem.widen(p.dOut());
        VanillaAttention.Grads g = oracle.backward(p.shape(), p.spec(), q, k, v, dOut);
        SplittableRandom rnd = new SplittableRandom(seed);
        double[][] inputs = {q, k, v};
        double[][] grads = {g.dq(), g.dk(), g.dv()};
        String[] names = {"dQ", "dK", "dV"};
        for (int t = 0; t < 3; t++) {
            for (int probe = 0; probe < 6; probe++) {
                double[] x = inputs[t];
                int at = rnd.nextInt(x.length);
                double h = 1e-5;
                double saved = x[at];
                x[at] = saved + h;
                double plus = loss(oracle, p, q, k, v, dOut);
                x[at] = saved - h;
                double minus = loss(oracle, p, q, k, v, dOut);
                x[at] = saved;
                double fd = (plus - minus) / (2 * h);
                double analytic = grads[t][at];
                double tol = 1e-6 * (1 + Math.abs(analytic) + Math.abs(plus));
                assertThat(Math.abs(fd - analytic)).as("%s[%d] of %s: analytic %s, finite difference %s", names[t],
                        at, p, analytic, fd).isLessThanOrEqualTo(tol);
            }
        }
    }

    private static double loss(VanillaAttention oracle, Problem p, double[] q, double[] k, double[] v,
            double[] dOut) {
        double[] o = oracle.forward(p.shape(), p.spec(), q, k, v).out();
        double l = 0;
        for (int i = 0; i < o.length; i++) {
            l += o[i] * dOut[i];
        }
        return l;
    }

    @Property(tries = 30)
    void gqaGradientsSumOverTheGroup(@ForAll("problems") Problem p, @ForAll("blocks") int block) {
        // dK, dV of a shared head equal the sum of the gradients it would get as separate heads (MHA copy).
        AttentionShape s = p.shape();
        int group = s.group();
        AttentionShape mha = new AttentionShape(s.batch(), s.qHeads(), s.qHeads(), s.qLen(), s.kvLen(), s.dim());
        float[] k2 = repeatHeads(p.k(), s, group);
        float[] v2 = repeatHeads(p.v(), s, group);
        Problem copy = new Problem(mha, p.spec(), p.q(), k2, v2, p.dOut());
        VanillaAttention.Grads shared = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Grads separate = copy.vanillaGrads(VanillaAttention.Precision.FLOAT64);
        int per = s.kvLen() * s.dim();
        for (int b = 0; b < s.batch(); b++) {
            for (int g = 0; g < s.kvHeads(); g++) {
                for (int e = 0; e < per; e++) {
                    double sumK = 0;
                    double sumV = 0;
                    for (int m = 0; m < group; m++) {
                        sumK += separate.dk()[((b * s.qHeads()) + g * group + m) * per + e];
                        sumV += separate.dv()[((b * s.qHeads()) + g * group + m) * per + e];
                    }
                    int at = (b * s.kvHeads() + g) * per + e;
                    assertThat(shared.dk()[at]).isCloseTo(sumK, offset(1e-9 * (1 + Math.abs(sumK))));
                    assertThat(shared.dv()[at]).isCloseTo(sumV, offset(1e-9 * (1 + Math.abs(sumV))));
                }
            }
        }
        Accuracy.assertGradients(p, p.blockwiseGrads(block, block), "block " + block);
    }

    private static float[] repeatHeads(float[] x, AttentionShape s, int group) {
        int per = s.kvLen() * s.dim();
        float[] y = new float[x.length * group];
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.qHeads(); h++) {
                System.arraycopy(x, (b * s.kvHeads() + h / group) * per, y, (b * s.qHeads() + h) * per, per);
            }
        }
        return y;
    }
}
