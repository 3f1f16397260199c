package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The join after a ring run, called by an interrupted caller (the caller of a ring that was
 * interrupted while it waited): the join still waits for the threads, and the caller's interrupt
 * is kept. The thread joined ends at the clock's third reading, so the join is in progress when it
 * first looks (no timing involved).
 */
class RingJoinTest {

    @Test
    void anInterruptedCallerStillJoinsTheThreadsAndKeepsItsInterrupt() throws InterruptedException {
        CountDownLatch release = new CountDownLatch(1);
        Thread worker = Thread.ofPlatform().name("ring-test-worker").start(() -> {
            try {
                release.await(10, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        int[] readings = {0};
        Supervision s = new Supervision(TimeUnit.HOURS.toNanos(1));
        try {
            Thread.currentThread().interrupt();
            Ring.joinAll(List.of(worker), s, () -> {
                if (++readings[0] == 3) {
                    release.countDown();
                }
                return readings[0] * TimeUnit.MILLISECONDS.toNanos(10);
            });
            assertTrue(Thread.interrupted(), "the caller's interrupt is kept");
        } finally {
            Thread.interrupted();
            release.countDown();
            worker.join(TimeUnit.MINUTES.toMillis(10));
        }
        assertFalse(worker.isAlive(), "the thread joined has ended");
        assertFalse(s.failed(), () -> "failed: " + s.failure().getMessage());
    }
}
