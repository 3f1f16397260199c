package org.ringattention.attention;

import org.junit.jupiter.api.Test;

/**
 * The small fixed problems of {@link RuleCases}, one per rule the engine implements, forward and
 * backward against the float64 oracle by the accuracy rule, with blocks that divide N, do not,
 * and exceed it. The property suites search the same space at random and at larger sizes; this
 * fixed list runs in about a second, so that it is also what mutation testing can afford to run
 * for every mutant (see docs/mutation-triage.md).
 */
class PassCasesTest {

    private static final int[][] BLOCKS = {{1, 1}, {8, 8}, {5, 16}, {64, 7}, {128, 128}};

    @Test
    void forwardMatchesTheOracleForEveryRule() {
        int i = 0;
        for (Problem p : RuleCases.all()) {
            int[] b = BLOCKS[i++ % BLOCKS.length];
            Accuracy.assertForward(p, p.blockwise(b[0], b[1]), "blocks " + b[0] + "x" + b[1]);
        }
    }

    @Test
    void gradientsMatchTheOracleForEveryRule() {
        int i = 2;
        for (Problem p : RuleCases.all()) {
            int[] b = BLOCKS[i++ % BLOCKS.length];
            Accuracy.assertGradients(p, p.blockwiseGrads(b[0], b[1]), "blocks " + b[0] + "x" + b[1]);
        }
    }
}
