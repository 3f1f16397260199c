package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The ring's value classes on their own: the simulated link's times, what a report derives from
 * its step records (overlap, imbalance, pairs and bytes), and the wait strategy's bounds. The
 * ring runs reach them only through timings, which no test may assert.
 */
class RingMetricsTest {

    @Test
    void aLinkModelCostsLatencyPlusBytesOverBandwidth() {
        // values exact in binary, so that the products round to the integers expected
        LinkModel m = new LinkModel(1024, 0.5);
        assertEquals(2_500_000_000L, m.nanosFor(2048));
        assertEquals(500_000_000L, m.nanosFor(0), "the latency alone");
        assertEquals(2_000_000_000L, m.bandwidthNanos(2048), "no latency on a hop under way");
        assertEquals(500_000_000L, new LinkModel(2048, 0).bandwidthNanos(1024));
        long cap = (long) (double) (Long.MAX_VALUE / 2); // the cap, as the double it is compared as
        assertEquals(cap, new LinkModel(1e-3, 0).nanosFor(Long.MAX_VALUE / 4), "capped");
        assertEquals(cap, new LinkModel(1e-3, 0).bandwidthNanos(Long.MAX_VALUE / 4), "capped");
        assertTrue(m.isSimulated());
        assertTrue(new LinkModel(Double.POSITIVE_INFINITY, 1e-9).isSimulated(), "latency alone");
        assertTrue(new LinkModel(1e12, 0).isSimulated(), "bandwidth alone");
        assertFalse(LinkModel.UNTHROTTLED.isSimulated());
        assertEquals(0, LinkModel.UNTHROTTLED.nanosFor(1 << 30));
        assertEquals(0, LinkModel.UNTHROTTLED.bandwidthNanos(1 << 30));
        assertEquals(250_000_000L, new LinkModel(Double.POSITIVE_INFINITY, 0.25).nanosFor(1 << 30));

        assertMessage("link bandwidth must be > 0 bytes/s, got 0.0", () -> new LinkModel(0, 0));
        assertMessage("link bandwidth must be > 0 bytes/s, got NaN", () -> new LinkModel(Double.NaN, 0));
        assertMessage("link latency must be >= 0 and finite, got -1.0E-9", () -> new LinkModel(1, -1e-9));
        assertMessage("link latency must be >= 0 and finite, got Infinity",
                () -> new LinkModel(1, Double.POSITIVE_INFINITY));
        assertMessage("link latency must be >= 0 and finite, got NaN", () -> new LinkModel(1, Double.NaN));
        assertEquals(0, new LinkModel(Double.MIN_VALUE, 0).latencySeconds(), "the smallest bandwidth is allowed");
    }

    @Test
    void aReportDerivesOverlapImbalanceAndTotalsFromItsSteps() {
        List<StepRecord> steps = new ArrayList<>();
        // device, step, compute, wait, bytes, transfer, pairs
        steps.add(new StepRecord(0, 0, 100, 10, 1_000, 40, 30));
        steps.add(new StepRecord(1, 0, 100, 30, 2_000, 60, 10));
        steps.add(new StepRecord(1, 1, 100, 0, 500, 0, 20));
        long[] bytes = {7, 9};
        RingReport r = new RingReport(2, Layout.CONTIGUOUS, steps, bytes, 5, 1_000);
        bytes[1] = 100;
        steps.clear();
        assertEquals(3, r.steps().size(), "the steps are copied");
        assertArrayEquals(new long[] {7, 9}, r.bytesPerDevice(), "the bytes are copied");
        assertEquals(1 - 40.0 / 100, r.overlap(), 1e-15);
        assertArrayEquals(new long[] {30, 30}, r.pairsPerDevice());
        assertEquals(1.0, r.imbalance());
        assertEquals(3_500, r.bytesSent());
        assertEquals(9, r.maxBytesPerDevice());

        RingReport skewed = new RingReport(3, Layout.ZIGZAG, List.of(new StepRecord(0, 0, 1, 0, 0, 0, 40),
                new StepRecord(2, 0, 1, 0, 0, 0, 20)), new long[] {3, 1, 2}, 0, 1);
        assertArrayEquals(new long[] {40, 0, 20}, skewed.pairsPerDevice());
        assertEquals(40 * 3.0 / 60, skewed.imbalance(), 1e-15);
        assertEquals(1.0, skewed.overlap(), "nothing sent: all hidden");
        assertEquals(3, skewed.maxBytesPerDevice());

        RingReport idle = new RingReport(2, Layout.STRIPED, List.of(), new long[2], 0, 0);
        assertEquals(1.0, idle.imbalance(), "no pairs: balanced");
        assertEquals(0, idle.bytesSent());
        assertEquals(0, idle.maxBytesPerDevice());
        RingReport late = new RingReport(1, Layout.CONTIGUOUS, List.of(new StepRecord(0, 0, 1, 90, 8, 30, 1)),
                new long[1], 0, 1);
        assertEquals(0.0, late.overlap(), "waits beyond the transfer clamp to 0");
    }

    @Test
    void theWaitStrategyRefusesParksBelowAMicrosecondAndAlwaysReturns() {
        assertEquals("max park must be >= 1 us, got 999 ns",
                assertThrows(IllegalArgumentException.class, () -> new IdleStrategy(999)).getMessage());
        // a bound for a wait that never returns, not a speed limit: 200 waits take milliseconds, but
        // the shared machine may stop the whole JVM for minutes
        assertTimeoutPreemptively(Duration.ofMinutes(10), () -> {
            IdleStrategy s = new IdleStrategy(1_000);
            for (int i = 0; i < 200; i++) {
                s.idle(); // spins, yields, then parks of at most 1 us each
            }
            s.reset();
            s.idle();
            IdleStrategy.backoff().idle();
        }, "a wait that never returns");
    }

    @Test
    void aFailureNamesTheDeviceTheStepAndItsCause() {
        IllegalStateException cause = new IllegalStateException("tile 3 broke");
        RingFailure f = new RingFailure(2, 5, "failed", cause);
        assertEquals("device 2 failed at step 5: tile 3 broke", f.getMessage());
        assertEquals(2, f.device());
        assertEquals(5, f.step());
        assertSame(cause, f.getCause());
        assertEquals("device 0 was interrupted at step 1: java.lang.InterruptedException",
                new RingFailure(0, 1, "was interrupted", new InterruptedException()).getMessage(),
                "a cause without a message is named by its class");
        assertEquals("device 1 stalled at step 0", new RingFailure(1, 0, "stalled", null).getMessage());
        RingFailure caller = new RingFailure("caller interrupted", null);
        assertEquals("caller interrupted", caller.getMessage());
        assertEquals(-1, caller.device());
        assertEquals(-1, caller.step());
    }

    @Test
    void theLogListsItsRecordsByDeviceThenStepWhateverOrderTheyCameIn() {
        StepLog log = new StepLog();
        int[][] order = {{1, 1}, {0, 2}, {1, 0}, {0, 0}, {2, 1}, {0, 1}};
        for (int[] r : order) {
            log.add(new StepRecord(r[0], r[1], 0, 0, 0, 0, 10 * r[0] + r[1]));
        }
        List<StepRecord> sorted = log.sorted();
        long[] pairs = sorted.stream().mapToLong(StepRecord::pairs).toArray();
        assertArrayEquals(new long[] {0, 1, 2, 10, 11, 21}, pairs);
        assertThrows(UnsupportedOperationException.class, () -> sorted.add(sorted.get(0)), "a copy, read-only");
        log.add(new StepRecord(0, 3, 0, 0, 0, 0, 3));
        assertEquals(6, sorted.size(), "later records do not change an earlier list");
        assertEquals(7, log.sorted().size());
    }

    private static void assertMessage(String message, Runnable r) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }
}
