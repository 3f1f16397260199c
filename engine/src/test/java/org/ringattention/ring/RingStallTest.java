package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.ringattention.ring.ShardlessRing.HANG;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.ShardAttention;
import org.ringattention.tasks.Tasks;

/**
 * How a ring fails when something stops: a stall names the device furthest behind, here device 1
 * of three (not the first, which the search falls back to), whose first task is held until the
 * ring stops; a link that throws fails the ring naming its device. The ring's devices have no
 * shards and run on {@link ReadyLinks}; the stall clock is scripted and moves only once the others
 * have ended and device 1 waits for its tasks, so the device named does not depend on how far the
 * threads got when the supervisor looked.
 */
class RingStallTest {

    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    private static Ring ring(Device[] ds, Links links, Ring.Work work) {
        return ShardlessRing.ring(ds, false, links, work, 2);
    }

    @Test
    void aStallNamesTheDeviceFurthestBehindWhenThatIsNotTheFirst() {
        Device[] ds = ShardlessRing.devices(3);
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean held = new AtomicBoolean();
        Ring.Work work = new Ring.Work() {
            @Override
            public Tasks<ShardAttention.Workspace> tasks(Device device, int step) {
                boolean hold = device.id == 1 && step == 0;
                return Tasks.of(2, (w, task) -> {
                    if (hold && task == 0) {
                        held.set(true);
                        release.await(HANG.toMillis(), TimeUnit.MILLISECONDS);
                    }
                    return 1;
                });
            }

            @Override
            public void stop() {
                release.countDown();
            }
        };
        // 1 s a poll, counted in full (within the oversleep limit), but only once the ring is where the test wants it
        LongSupplier clock = new LongSupplier() {
            private long now;

            @Override
            public long getAsLong() {
                if (held.get() && ds[0].done && ds[2].done && "its tasks".equals(ds[1].waitingFor)) {
                    now += SECOND;
                }
                return now;
            }
        };
        RingFailure f = assertTimeoutPreemptively(HANG, () -> assertThrows(RingFailure.class,
                () -> ring(ds, new ReadyLinks(-1), work).run(new Supervision(2 * SECOND, clock))));

        assertEquals("device 1 stalled (nothing happened for 2 s; waiting for its tasks) at step 0", f.getMessage());
        assertEquals(1, f.device());
        assertEquals(0, f.step());
        assertTrue(ds[0].done && ds[2].done && ds[1].done, "every device ended");
        assertEquals(2, ds[0].step, "device 0 went through its steps");
        assertEquals(2, ds[2].step, "device 2 went through its steps");
        assertEquals(0, release.getCount(), "the failure stopped the work");
    }

    /**
     * A task that throws fails the ring at once, naming its device and step. The stall clock moves
     * only once the worker that ran the task has ended, so a ring that did not hear of the failure
     * would stall instead (after 3 s) and say so.
     */
    @Test
    void aTaskThatThrowsFailsTheRingNamingItsDeviceAndStep() {
        Device[] ds = ShardlessRing.devices(3);
        AtomicReference<Thread> thrower = new AtomicReference<>();
        Ring.Work work = (device, step) -> Tasks.<ShardAttention.Workspace>of(2, (w, task) -> {
            if (device.id == 2 && step == 1 && task == 1) {
                thrower.set(Thread.currentThread());
                throw new IllegalStateException("injected task fault");
            }
            return 1;
        });
        LongSupplier clock = new LongSupplier() {
            private long now;

            @Override
            public long getAsLong() {
                Thread t = thrower.get();
                if (t != null && !t.isAlive()) {
                    now += SECOND;
                }
                return now;
            }
        };
        RingFailure f = assertTimeoutPreemptively(HANG, () -> assertThrows(RingFailure.class,
                () -> ring(ds, new ReadyLinks(-1), work).run(new Supervision(3 * SECOND, clock))));

        assertEquals("device 2 failed at step 1: injected task fault", f.getMessage());
        assertEquals(2, f.device());
        assertEquals(1, f.step());
    }

    @Test
    void aLinkThatThrowsFailsTheRingNamingItsDeviceAndIsAbortedThenClosed() {
        Device[] ds = ShardlessRing.devices(2);
        ReadyLinks links = new ReadyLinks(0);
        Ring.Work work = (device, step) -> Tasks.<ShardAttention.Workspace>of(2, (w, task) -> 1);
        RingFailure f = assertTimeoutPreemptively(HANG, () -> assertThrows(RingFailure.class,
                () -> ring(ds, links, work).run()));

        assertEquals("device 0 link failed at step 0: " + ReadyLinks.FAULT, f.getMessage());
        assertEquals(0, f.device());
        assertEquals(0, f.step());
        assertEquals(IllegalStateException.class, f.getCause().getClass());
        for (int from = 0; from < 2; from++) {
            assertTrue(links.made(from).aborted, "link " + from + " aborted");
            assertTrue(links.made(from).closed, "link " + from + " closed");
        }
    }
}
