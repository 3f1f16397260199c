package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/**
 * How Supervision.awaitEnd waits: not at all once every device has ended, and, while devices run,
 * by sleeping between looks (releasing its lock, so that a device can report its end), never by
 * spinning. The clock advances 1 s a reading (a stall after a few looks) and fails the test past a
 * generous number of readings, so that a wait that never ends shows as a failure, not a hang.
 */
class SupervisionWaitTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    /** 1 s a reading; an AssertionError at reading {@code limit}. */
    private static LongSupplier clock(AtomicInteger readings, int limit) {
        return () -> {
            int r = readings.incrementAndGet();
            if (r >= limit) {
                throw new AssertionError("the clock was read " + r + " times");
            }
            return r * SECOND;
        };
    }

    @Test
    void aRingWhoseDevicesHaveAllEndedIsNotWaitedFor() {
        AtomicInteger readings = new AtomicInteger();
        Supervision s = new Supervision(2 * SECOND, clock(readings, 10));
        s.expect(2);
        s.deviceEnded();
        s.deviceEnded();
        s.awaitEnd(new Device[] {new Device(0, null, null, null), new Device(1, null, null, null)});
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
        assertTrue(readings.get() <= 1, "the clock was read " + readings.get() + " times");
    }

    @Test
    void aDeviceEndingWhileTheSupervisorWaitsEndsTheWait() throws InterruptedException {
        AtomicInteger readings = new AtomicInteger();
        Supervision s = new Supervision(TimeUnit.HOURS.toNanos(1), clock(readings, 1000));
        s.expect(1);
        Thread device = Thread.ofPlatform().name("ring-test-device").start(() -> {
            while (readings.get() < 2) { // the supervisor is waiting
                LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(1));
            }
            s.deviceEnded();
        });
        try {
            s.awaitEnd(new Device[] {new Device(0, null, null, null)});
            assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
        } finally {
            device.join(TimeUnit.MINUTES.toMillis(10));
        }
        assertFalse(device.isAlive());
    }
}
