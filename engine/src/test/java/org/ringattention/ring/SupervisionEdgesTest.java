package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The edges of Supervision's rules, on a scripted clock (as SupervisionTest): a poll counts what it
 * lasted up to the oversleep limit included, a stall is more than the timeout, the device named is
 * the one furthest behind among those not done; and the first failure runs the stop actions once,
 * keeping what a failing action threw.
 */
class SupervisionEdgesTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    /** The clock reads 0, then advances by {@code steps[i]} at each reading; past them, the one device ends. */
    private static Supervision scripted(long stallNanos, long... steps) {
        return scripted(stallNanos, false, steps);
    }

    /** As above; with {@code endInLast}, the device ends during the last step instead of after it. */
    private static Supervision scripted(long stallNanos, boolean endInLast, long... steps) {
        Supervision[] s = new Supervision[1];
        s[0] = new Supervision(stallNanos, SupervisionTest.script(s, endInLast, steps));
        s[0].expect(1);
        return s[0];
    }

    private static long[] polls(int count, long nanos) {
        long[] steps = new long[count];
        java.util.Arrays.fill(steps, nanos);
        return steps;
    }

    private static Device device(int id, int step, boolean done) {
        Device d = new Device(id, null, null, null);
        d.step = step;
        d.done = done;
        d.waitingFor = "what device " + id + " waits for";
        return d;
    }

    @Test
    void aPollLateByExactlyTheOversleepLimitCountsInFull() {
        Supervision s = scripted(1000 * MS, 1050 * MS); // 50 ms poll + 1 s: not more than the limit
        s.awaitEnd(new Device[] {device(0, 1, false)});
        assertTrue(s.failed(), "1050 ms awake without progress is more than the 1 s stall timeout");
        assertEquals("device 0 stalled (nothing happened for 1 s; waiting for what device 0 waits for) at step 1",
                s.failure().getMessage());
    }

    @Test
    void pollsCutShortCountWhatTheyLasted() {
        Supervision s = scripted(200 * MS, polls(15, 10 * MS)); // 150 ms in all
        s.awaitEnd(new Device[] {device(0, 0, false)});
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
    }

    @Test
    void exactlyTheStallTimeoutWithoutProgressIsNotYetAStall() {
        Supervision s = scripted(200 * MS, polls(4, 50 * MS));
        s.awaitEnd(new Device[] {device(0, 0, false)});
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
    }

    @Test
    void aRingWhoseLastDeviceEndsInThePollThatPassesTheTimeoutHasNotStalled() {
        Supervision s = scripted(200 * MS, true, polls(5, 50 * MS)); // 250 ms, but the device ended
        s.awaitEnd(new Device[] {device(0, 0, false)});
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
    }

    @Test
    void theDeviceNamedIsTheFirstOfTheLowestStepAmongThoseNotDone() {
        Supervision s = scripted(100 * MS, polls(4, 50 * MS));
        s.awaitEnd(new Device[] {device(0, 0, true), null, device(2, 3, false), device(3, 2, false),
                device(4, 2, false)});
        assertEquals(3, s.failure().device());
        assertEquals(2, s.failure().step());
        assertTrue(s.failure().getMessage().contains("what device 3 waits for"), s.failure().getMessage());
    }

    @Test
    void withEveryDeviceDoneTheFirstIsNamed() {
        Supervision s = scripted(100 * MS, polls(4, 50 * MS));
        s.awaitEnd(new Device[] {device(5, 1, true), device(6, 0, true)});
        assertEquals(5, s.failure().device());
    }

    @Test
    void theFirstFailureRunsEveryStopActionOnceKeepingWhatOneThrew() {
        Supervision s = new Supervision(TimeUnit.MINUTES.toNanos(1));
        List<String> ran = new ArrayList<>();
        IllegalStateException thrown = new IllegalStateException("a stop action failed");
        s.onFailure(() -> ran.add("first"));
        s.onFailure(() -> {
            ran.add("throwing");
            throw thrown;
        });
        s.onFailure(() -> ran.add("last"));
        assertFalse(s.failed());
        s.check(); // does not throw before a failure
        RingFailure first = new RingFailure(1, 2, "failed", null);
        s.fail(first);
        s.fail(new RingFailure(0, 0, "failed", null));
        assertSame(first, s.failure(), "the first failure wins");
        assertEquals(List.of("first", "throwing", "last"), ran, "each action once, in order, all of them");
        assertArrayEquals(new Throwable[] {thrown}, first.getSuppressed());
        assertTrue(s.failed());
        try {
            s.check();
            throw new AssertionError("check did not stop a thread of a failed ring");
        } catch (Supervision.Stopped expected) {
            assertEquals("the ring stopped", expected.getMessage());
        }
    }
}
