package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionShape;
import org.ringattention.kernel.Kernels;

/**
 * The stall timeout a ring pass gets: the one set, or 30 s plus twice the link's time for one hop
 * (K and V forward; K, V, dK and dV backward: rows of d floats per batch and key/value head), and
 * no timeout at all (Long.MAX_VALUE) where that sum does not fit a long.
 */
class RingStallTimeoutTest {

    private static final long MIN = TimeUnit.SECONDS.toNanos(30);
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    @Test
    void theDefaultIsThirtySecondsPlusTwoHopsAndSaturates() {
        assertEquals(MIN, RingAttention.defaultStallNanos(0));
        assertEquals(MIN + 2, RingAttention.defaultStallNanos(1));
        assertEquals(MIN + 2 * 16 * SECOND, RingAttention.defaultStallNanos(16 * SECOND));
        long largest = (Long.MAX_VALUE - MIN) / 2; // the first hop time whose sum would not fit
        assertEquals(Long.MAX_VALUE - 3, RingAttention.defaultStallNanos(largest - 1));
        assertEquals(Long.MAX_VALUE, RingAttention.defaultStallNanos(largest));
        assertEquals(Long.MAX_VALUE, RingAttention.defaultStallNanos(largest + 1));
        assertEquals(Long.MAX_VALUE, RingAttention.defaultStallNanos(Long.MAX_VALUE / 2)); // LinkModel's cap
    }

    @Test
    void aPassGetsTheDefaultForItsHopUnlessATimeoutIsSet() {
        // one byte a second: a hop of b bytes takes b seconds, exactly
        RingAttention ring = new RingAttention(Kernels.preferred(), 16, 16, 1, 3, Layout.CONTIGUOUS,
                new LinkModel(1, 0));
        AttentionShape shape = new AttentionShape(2, 6, 3, 20, 21, 5);
        int kvCapacity = 7;
        long forwardHop = 2L * kvCapacity * 2 * 3 * 5 * Float.BYTES; // K and V: 1680 bytes
        long backwardHop = 4L * kvCapacity * 2 * 3 * 5 * Float.BYTES; // with dK and dV
        assertEquals(MIN + 2 * forwardHop * SECOND, ring.stallNanosFor(shape, kvCapacity, false));
        assertEquals(MIN + 2 * backwardHop * SECOND, ring.stallNanosFor(shape, kvCapacity, true));
        assertEquals(MIN + 2 * forwardHop * SECOND,
                ring.withStallTimeout(Duration.ZERO).stallNanosFor(shape, kvCapacity, false), "0: the default");

        RingAttention set = ring.withStallTimeout(Duration.ofSeconds(5));
        assertEquals(5 * SECOND, set.stallNanosFor(shape, kvCapacity, false));
        assertEquals(5 * SECOND, set.stallNanosFor(shape, kvCapacity, true));
        assertEquals(1, ring.withStallTimeout(Duration.ofNanos(1)).stallNanosFor(shape, kvCapacity, true));
    }

    @Test
    void aLinkWithoutSimulatedTimeGivesThirtySeconds() {
        RingAttention ring = new RingAttention(Kernels.preferred(), 16, 16, 1, 2, null, LinkModel.UNTHROTTLED);
        assertEquals(MIN, ring.stallNanosFor(new AttentionShape(1, 1, 1, 64, 64, 8), 32, true));
    }
}
