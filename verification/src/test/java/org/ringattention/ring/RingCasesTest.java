package org.ringattention.ring;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.Problem;
import org.ringattention.attention.RuleCases;

/**
 * {@link RingProperties}' properties on the fixed problems of {@link RuleCases}: every rule on
 * ring sizes 1 to 5 and every layout in turn, forward and backward against the oracle, one device
 * bit-identical to blockwise, the same bits for 1 and 3 threads, and with 1 × 1 tiles exactly the
 * visible pairs computed. A few seconds, where the random searches take minutes: what mutation
 * testing runs for every mutant (docs/mutation-triage.md).
 */
class RingCasesTest {

    private final RingProperties properties = new RingProperties();
    private final List<Problem> cases = RuleCases.all();
    private static final Layout[] LAYOUTS = Layout.values();
    private static final int[][] BLOCKS = {{8, 8}, {5, 16}, {1, 1}, {64, 7}, {3, 128}};

    @Test
    void ringMatchesTheOracleForEveryRuleAndLayout() {
        for (int c = 0; c < cases.size(); c++) {
            int[] b = BLOCKS[c % BLOCKS.length];
            properties.ringGradientsMatchOracle(cases.get(c), 1 + c % 5, LAYOUTS[c % LAYOUTS.length], b[0], b[1],
                    1 + c % 2);
        }
    }

    @Test
    void oneDeviceIsBlockwiseAndThreadsDoNotChangeBits() {
        for (int c = 0; c < cases.size(); c++) {
            int[] b = BLOCKS[(c + 1) % BLOCKS.length];
            Layout layout = LAYOUTS[(c + 1) % LAYOUTS.length];
            properties.oneDeviceIsBlockwise(cases.get(c), layout, b[0], b[1]);
            properties.sameBitsForAnyThreads(cases.get(c), 2 + c % 4, layout, b[0], b[1]);
        }
    }

    @Test
    void devicesComputeOnlyVisiblePairs() {
        for (int c = 0; c < cases.size(); c++) {
            properties.devicesComputeOnlyVisiblePairs(cases.get(c), 1 + (c + 2) % 5, LAYOUTS[(c + 2) % LAYOUTS.length]);
        }
    }
}
