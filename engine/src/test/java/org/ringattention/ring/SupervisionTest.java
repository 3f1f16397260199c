package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** The stall clock, on a scripted clock: time nobody was awake for does not count as a stall. */
class SupervisionTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

    /** A clock that advances by {@code steps[i]} at its i-th reading after the first, then ends the device. */
    private static LongSupplier script(Supervision[] s, long... steps) {
        return script(s, false, steps);
    }

    /** As above; with {@code endInLast}, the device ends during the last step instead of after it. */
    static LongSupplier script(Supervision[] s, boolean endInLast, long... steps) {
        return new LongSupplier() {
            private int reading = -1;
            private long now;

            @Override
            public long getAsLong() {
                if (reading >= 0 && reading < steps.length) {
                    now += steps[reading];
                    if (endInLast && reading == steps.length - 1) {
                        s[0].deviceEnded();
                    }
                } else if (reading >= steps.length) {
                    s[0].deviceEnded();
                }
                reading++;
                return now;
            }
        };
    }

    private static Device[] devices() {
        Device slow = new Device(1, null, null, null);
        slow.step = 2;
        slow.waitingFor = "the shard of step 2";
        Device ahead = new Device(0, null, null, null);
        ahead.step = 3;
        return new Device[] {ahead, slow};
    }

    @Test
    void aPollThatOversleepsByAnHourIsNotAStall() {
        Supervision[] s = new Supervision[1];
        s[0] = new Supervision(500 * MS, script(s, 50 * MS, 50 * MS, TimeUnit.HOURS.toNanos(1), 50 * MS, 50 * MS));
        s[0].expect(1);
        s[0].awaitEnd(devices());
        assertFalse(s[0].failed(), () -> "failed: " + s[0].failure().getMessage());
    }

    @Test
    void nothingHappeningInNormalPollsIsAStallNamingTheDeviceBehind() {
        Supervision[] s = new Supervision[1];
        long[] steps = new long[20];
        java.util.Arrays.fill(steps, 50 * MS);
        s[0] = new Supervision(200 * MS, script(s, steps));
        s[0].expect(1);
        s[0].awaitEnd(devices());
        RingFailure f = s[0].failure();
        assertNotNull(f);
        assertEquals(1, f.device());
        assertTrue(f.getMessage().contains("stalled") && f.getMessage().contains("the shard of step 2"), f.getMessage());
    }

    @Test
    void progressRestartsTheStallClock() {
        Supervision[] s = new Supervision[1];
        long[] steps = new long[12];
        java.util.Arrays.fill(steps, 50 * MS);
        LongSupplier scripted = script(s, steps);
        int[] readings = {0};
        s[0] = new Supervision(200 * MS, () -> {
            if (readings[0]++ % 3 == 0) {
                s[0].progress(); // something happens every third poll: never 200 ms without progress
            }
            return scripted.getAsLong();
        });
        s[0].expect(1);
        s[0].awaitEnd(devices());
        assertFalse(s[0].failed(), () -> "failed: " + s[0].failure().getMessage());
    }
}
