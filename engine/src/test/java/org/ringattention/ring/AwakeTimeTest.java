package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** Awake time and the join after a ring run, on scripted clocks: a stopped JVM makes no thread late. */
class AwakeTimeTest {

    private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);
    private static final long HOUR = TimeUnit.HOURS.toNanos(1);

    /** A clock that advances by {@code steps[i]} at its i-th reading after the first, then by the last step. */
    private static LongSupplier script(long... steps) {
        return new LongSupplier() {
            private int reading = -1;
            private long now;

            @Override
            public long getAsLong() {
                if (reading >= 0) {
                    now += steps[Math.min(reading, steps.length - 1)];
                }
                reading++;
                return now;
            }
        };
    }

    @Test
    void gapsWithinAPollAndTheOversleepCountInFullAnHourCountsAsOnePoll() {
        AwakeTime t = new AwakeTime(script(50 * MS, 1000 * MS, HOUR, 20 * MS), 50 * MS);
        assertEquals(50 * MS, t.read());
        assertEquals(1050 * MS, t.read()); // 1 s late: within the oversleep allowance, counted
        assertEquals(1100 * MS, t.read()); // an hour: nobody ran, one poll
        t.restart();
        assertEquals(20 * MS, t.read());
    }

    @Test
    void aJoinInWhichTheJvmWasStoppedForAnHourDoesNotFailAThreadThatEnds() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        Thread slow = Thread.ofPlatform().name("ring-test-slow").start(() -> awaitQuietly(release));
        int[] readings = {0};
        LongSupplier stopped = script(HOUR);
        Supervision s = new Supervision(HOUR);
        Ring.joinAll(List.of(slow), s, () -> {
            if (++readings[0] == 4) {
                release.countDown(); // the thread ends after three hours in which nobody ran
            }
            return stopped.getAsLong();
        });
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
        assertFalse(slow.isAlive());
    }

    @Test
    void aThreadThatDoesNotStopWithinTheAwakeLimitFailsTheRunNamingIt() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        Thread stuck = Thread.ofPlatform().name("ring-test-stuck").start(() -> awaitQuietly(release));
        try {
            Supervision s = new Supervision(HOUR);
            Ring.joinAll(List.of(stuck), s, script(500 * MS)); // awake: 2 s after four polls
            assertTrue(s.failed());
            assertNotNull(s.failure());
            assertEquals("ring-test-stuck did not stop within " + Ring.JOIN_MILLIS + " ms", s.failure().getMessage());
        } finally {
            release.countDown();
            stuck.join(TimeUnit.MINUTES.toMillis(10));
        }
    }

    private static void awaitQuietly(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
