package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Problem;

/**
 * A pass that returns has ended every thread it started (Ring's contract): checked the moment the
 * call returns, without waiting, against the ring threads alive before it (so that threads of
 * other tests do not count).
 */
class RingEndTest {

    @Test
    void aPassThatReturnsHasEndedItsThreads() {
        Problem p = Problem.random(new AttentionShape(1, 2, 2, 48, 48, 8), AttentionSpec.DEFAULT, 3, 1);
        for (int devices : new int[] {1, 3}) {
            RingAttention ring = RingProperties.ring(16, 16, 2, devices, Layout.CONTIGUOUS);
            for (int run = 0; run < 5; run++) {
                Set<Thread> before = ringThreads();
                ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
                Set<Thread> after = ringThreads();
                after.removeAll(before);
                assertThat(after).as("P=%d run %d: ring threads alive after the pass returned", devices, run)
                        .isEmpty();
            }
        }
    }

    /** The same for the shortest pass: one device, forward only, where the check follows the join most closely. */
    @Test
    void aPassOfOneDeviceHasEndedItsWorkersWhenItReturns() {
        Problem p = Problem.random(new AttentionShape(1, 1, 1, 16, 16, 4), AttentionSpec.DEFAULT, 5, 1);
        RingAttention ring = RingProperties.ring(8, 8, 2, 1, Layout.CONTIGUOUS);
        for (int run = 0; run < 20; run++) {
            Set<Thread> before = ringThreads();
            ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
            Set<Thread> after = ringThreads();
            after.removeAll(before);
            assertThat(after).as("run %d: ring threads alive after the pass returned", run).isEmpty();
        }
    }

    private static Set<Thread> ringThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().startsWith("ring-") && t.isAlive())
                .collect(Collectors.toSet());
    }
}
