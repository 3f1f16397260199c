package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** Blockwise attention equals the float64 oracle, whatever the shapes, masks and block sizes. */
class BlockwiseEquivalenceProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Property
    void blockwiseMatchesOracle(@ForAll("problems") Problem p, @ForAll("blocks") int blockQ,
            @ForAll("blocks") int blockKv) {
        AttentionOutput got = p.blockwise(blockQ, blockKv);
        Accuracy.assertForward(p, got, "blocks " + blockQ + "x" + blockKv);
    }

    @Property
    void blockSizeChangesNothingBeyondRounding(@ForAll("problems") Problem p, @ForAll("blocks") int blockQ,
            @ForAll("blocks") int blockKv) {
        // Query blocking does not change any row's arithmetic: results are bit-identical.
        AttentionOutput a = p.blockwise(blockQ, blockKv);
        AttentionOutput b = p.blockwise(1 + blockQ / 2, blockKv);
        assertThat(b.out().toArray()).as("O with another query block size").isEqualTo(a.out().toArray());
        assertThat(b.lse()).as("LSE with another query block size").isEqualTo(a.lse());
        // Key blocking changes the order of additions only: both stay within the rule.
        Accuracy.assertForward(p, p.blockwise(blockQ, 1 + blockKv / 3), "kv block " + (1 + blockKv / 3));
    }
}
