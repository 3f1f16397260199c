package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/**
 * Large scores do not overflow: with queries scaled by 30 and by 1000 (scores in the thousands,
 * exp of which would overflow float64, let alone float32) the running max keeps every exponent ≤ 0,
 * outputs stay finite and still match the oracle within the rule.
 */
class StabilityProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Provide
    Arbitrary<Double> queryScales() {
        return Arbitraries.of(30.0, 1000.0);
    }

    @Property
    void largeScoresStayFiniteAndExact(@ForAll("problems") Problem p, @ForAll("queryScales") double qScale,
            @ForAll("blocks") int blockQ, @ForAll("blocks") int blockKv, @ForAll long seed) {
        Problem big = Problem.random(p.shape(), p.spec(), seed, qScale);
        AttentionOutput got = big.blockwise(blockQ, blockKv);
        assertThat(got.out().firstNonFinite()).as("non-finite output of %s", big).isEqualTo(-1);
        for (float l : got.lse()) {
            assertThat(Float.isNaN(l) || l == Float.POSITIVE_INFINITY).as("LSE %s of %s", l, big).isFalse();
        }
        Accuracy.assertForward(big, got, "queries x" + qScale);
    }

    @Property(tries = 20)
    void largeScoresGradientsStayFiniteAndExact(@ForAll("problems") Problem p, @ForAll("queryScales") double qScale,
            @ForAll("blocks") int blockQ, @ForAll("blocks") int blockKv, @ForAll long seed) {
        Problem big = Problem.random(p.shape(), p.spec(), seed, qScale);
        Gradients g = big.blockwiseGrads(blockQ, blockKv);
        assertThat(g.dq().firstNonFinite()).isEqualTo(-1);
        assertThat(g.dk().firstNonFinite()).isEqualTo(-1);
        assertThat(g.dv().firstNonFinite()).isEqualTo(-1);
        Accuracy.assertGradients(big, g, "queries x" + qScale);
    }
}
