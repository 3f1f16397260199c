package org.ringattention.ring;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongSupplier;

/**
 * Beside the protocol, not in it: the first failure of a ring run, and whether anything still
 * happens. The first {@link #fail} wins and runs the stop actions once (stop tasks waiting for each
 * other, wake parked threads, abort links); every thread then finds {@link #failed} and ends.
 * {@link #awaitEnd} runs on the caller's thread: it returns when the devices are done or the ring
 * failed, and fails a ring in which nothing happened for the stall timeout, naming the device
 * furthest behind and what it waits for.
 *
 * <p>The stall clock counts only time in which this supervisor was awake: a poll that returns more
 * than {@link AwakeTime#OVERSLEEP_NANOS} late (the process was stopped, or the host starved it)
 * counts as one poll interval, so a healthy ring is not failed for time in which nobody ran.
 *
 * <p>Thread-safe: any thread may call any method. Not final only so that tests can count the
 * {@link #progress} reports a ring makes (RingProgressTest).
 */
class Supervision {

    private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

    /** Thrown inside a thread of a failed ring to unwind it; carries no stack. */
    static final class Stopped extends RuntimeException {
        Stopped() {
            super("the ring stopped", null, false, false);
        }
    }

    private final AtomicReference<RingFailure> failure = new AtomicReference<>();
    private final List<Runnable> onFailure = new ArrayList<>();
    private final long stallNanos;
    private final LongSupplier clock;
    private volatile boolean moved;
    private int running;

    Supervision(long stallNanos) {
        this(stallNanos, System::nanoTime);
    }

    /** With {@code clock} as the source of nanoseconds (tests script it). */
    Supervision(long stallNanos, LongSupplier clock) {
        this.stallNanos = stallNanos;
        this.clock = clock;
    }

    /** Adds an action run once when the ring fails (before any thread is started). */
    void onFailure(Runnable action) {
        onFailure.add(action);
    }

    /** Something happened: a task ended, a shard moved, a step began. */
    void progress() {
        moved = true;
    }

    boolean failed() {
        return failure.get() != null;
    }

    /** Throws {@link Stopped} when the ring has failed. */
    void check() {
        if (failure.get() != null) {
            throw new Stopped();
        }
    }

    RingFailure failure() {
        return failure.get();
    }

    void fail(RingFailure f) {
        if (failure.compareAndSet(null, f)) {
            for (Runnable r : onFailure) {
                try {
                    r.run();
                } catch (RuntimeException e) {
                    f.addSuppressed(e);
                }
            }
        }
        synchronized (this) {
            notifyAll();
        }
    }

    /** {@code devices} devices run; each calls {@link #deviceEnded} once. */
    synchronized void expect(int devices) {
        running = devices;
    }

    synchronized void deviceEnded() {
        running--;
        notifyAll();
    }

    /** Waits until every device has ended or the ring failed; fails a ring that stalls. */
    void awaitEnd(Device[] devices) {
        try {
            synchronized (this) {
                AwakeTime since = new AwakeTime(clock, POLL_NANOS); // since the last progress seen
                while (running > 0 && !failed()) {
                    TimeUnit.NANOSECONDS.timedWait(this, POLL_NANOS);
                    long still = since.read();
                    if (moved) {
                        moved = false;
                        since.restart();
                        still = 0;
                    }
                    if (!failed() && running > 0 && still > stallNanos) {
                        Device slow = furthestBehind(devices);
                        fail(new RingFailure(slow.id, slow.step, "stalled (nothing happened for "
                                + TimeUnit.NANOSECONDS.toSeconds(stallNanos) + " s; waiting for " + slow.waitingFor
                                + ")", null));
                    }
                }
            }
        } catch (InterruptedException e) {
            fail(new RingFailure("interrupted while waiting for the ring", e));
            Thread.currentThread().interrupt();
        }
    }

    private static Device furthestBehind(Device[] devices) {
        Device slow = null;
        for (Device d : devices) {
            if (d != null && !d.done && (slow == null || d.step < slow.step)) {
                slow = d;
            }
        }
        return slow != null ? slow : devices[0];
    }
}
