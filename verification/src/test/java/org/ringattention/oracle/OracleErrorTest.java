package org.ringattention.oracle;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Problem;

/**
 * The float64 oracle's own error, bounded by the certified double-double oracle on random small
 * cases of every mask kind, GQA, odd head dimensions, sharp and flat softmax rows; and the
 * certified oracle's sensitivity: it tells apart the float64 oracle from a perturbation of one
 * input by one float64 ulp.
 */
class OracleErrorTest {

    private static Problem random(SplittableRandom rnd) {
        int kv = 1 + rnd.nextInt(2);
        int heads = kv * (1 + rnd.nextInt(2));
        int nk = 1 + rnd.nextInt(70);
        int nq = rnd.nextInt(3) == 0 ? 1 + rnd.nextInt(70) : nk;
        int d = new int[] {1, 4, 16, 59}[rnd.nextInt(4)];
        AttentionSpec spec = switch (rnd.nextInt(4)) {
            case 0 -> AttentionSpec.DEFAULT;
            case 1 -> AttentionSpec.DEFAULT.withCausal(true);
            case 2 -> AttentionSpec.DEFAULT.withWindow(1 + rnd.nextInt(20));
            default -> nq == nk ? AttentionSpec.DEFAULT.withSegments(Problem.segments(1, nk, rnd.nextLong(), true))
                    : AttentionSpec.DEFAULT.withCausal(true);
        };
        double qScale = new double[] {0.1, 1, 4}[rnd.nextInt(3)];
        return Problem.random(new AttentionShape(1, heads, kv, nq, nk, d), spec, rnd.nextLong(), qScale);
    }

    @Test
    void theFloat64OracleIsWithinItsDerivedBoundOnRandomCases() {
        SplittableRandom rnd = new SplittableRandom(106);
        double worstScaled = 0;
        double worstElementwise = 0;
        double worstShare = 0;
        for (int t = 0; t < 40; t++) {
            Problem p = random(rnd);
            double[] q = Problem.widen(p.q());
            double[] k = Problem.widen(p.k());
            double[] v = Problem.widen(p.v());
            double[] dOut = Problem.widen(p.dOut());
            CertifiedAttention.Result cert = CertifiedAttention.compute(p.shape(), p.spec(), q, k, v, dOut);
            OracleError err = OracleError.ofOracle(p.shape(), p.spec(), q, k, v, dOut, cert);
            double bound = OracleError.bound(p.shape(), cert);
            assertThat(err.maxElementwise()).as("%s: %s", p, err).isLessThanOrEqualTo(bound);
            worstScaled = Math.max(worstScaled, err.maxScaled());
            worstElementwise = Math.max(worstElementwise, err.maxElementwise());
            worstShare = Math.max(worstShare, err.maxElementwise() / bound);
        }
        System.out.printf("float64 oracle against the certified oracle, 40 random cases: worst %.2e scaled,"
                + " %.2e elementwise, %.2f of the derived bound%n", worstScaled, worstElementwise, worstShare);
        assertThat(worstElementwise).as("float64 rounding is visible").isGreaterThan(1e-17);
    }

    @Test
    void theCertifiedOracleSeesAOneUlpChangeOfAnInput() {
        Problem p = Problem.random(new AttentionShape(1, 1, 1, 8, 8, 4), AttentionSpec.DEFAULT, 5, 1);
        double[] q = Problem.widen(p.q());
        double[] k = Problem.widen(p.k());
        double[] v = Problem.widen(p.v());
        double[] dOut = Problem.widen(p.dOut());
        CertifiedAttention.Result cert = CertifiedAttention.compute(p.shape(), p.spec(), q, k, v, dOut);
        double[] v2 = v.clone();
        v2[3] = Math.nextUp(v2[3]);
        CertifiedAttention.Result moved = CertifiedAttention.compute(p.shape(), p.spec(), q, k, v2, dOut);
        assertThat(moved.out()).isNotEqualTo(cert.out());
        // and a value-level check: one query, one key gives O = v and LSE = scale · q · k exactly
        Problem one = Problem.random(new AttentionShape(1, 1, 1, 1, 1, 3), AttentionSpec.DEFAULT, 9, 1);
        double[] q1 = Problem.widen(one.q());
        double[] k1 = Problem.widen(one.k());
        double[] v1 = Problem.widen(one.v());
        CertifiedAttention.Result r = CertifiedAttention.compute(one.shape(), one.spec(), q1, k1, v1,
                Problem.widen(one.dOut()));
        assertThat(r.out()).containsExactly(v1);
        DoubleDouble s = DoubleDouble.product(q1[0], k1[0]).add(DoubleDouble.product(q1[1], k1[1]))
                .add(DoubleDouble.product(q1[2], k1[2])).multiply(1 / Math.sqrt(3));
        assertThat(r.lse()[0]).isEqualTo(s.doubleValue());
        assertThat(r.dq()).containsOnly(0.0); // one key: P = 1, dS = 1 · (dP − D) = 0
        assertThat(r.dv()).containsExactly(Problem.widen(one.dOut()));
    }
}
