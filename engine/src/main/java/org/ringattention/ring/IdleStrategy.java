package org.ringattention.ring;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * How a thread waits for a condition it polls (a link, its tasks): spin briefly, then yield the
 * core, then park for a time that doubles up to a cap, as Agrona's {@code BackoffIdleStrategy}.
 * A parked thread wakes early when another thread unparks it (the in-process link and the workers
 * do), so the cap only bounds the delay of conditions nobody signals (an MPI request completing).
 * On 2 cores a blocked device must not keep one busy: after a few microseconds it parks.
 *
 * <p>Not thread-safe: one instance per waiting thread. {@link #reset} after a condition turned true.
 */
public final class IdleStrategy {

    private static final int SPINS = 64;
    private static final int YIELDS = 16;
    private static final long MIN_PARK_NANOS = TimeUnit.MICROSECONDS.toNanos(1);

    private final long maxParkNanos;
    private int spins;
    private int yields;
    private long parkNanos = MIN_PARK_NANOS;

    /** Parks at most {@code maxParkNanos} at a time. */
    public IdleStrategy(long maxParkNanos) {
        if (maxParkNanos < MIN_PARK_NANOS) {
            throw new IllegalArgumentException("max park must be >= 1 us, got " + maxParkNanos + " ns");
        }
        this.maxParkNanos = maxParkNanos;
    }

    /** The default: parks up to 0.5 ms (the latency it adds to an unsignalled condition). */
    public static IdleStrategy backoff() {
        return new IdleStrategy(TimeUnit.MICROSECONDS.toNanos(500));
    }

    /** Waits a little, longer each time since the last {@link #reset}. */
    public void idle() {
        if (spins < SPINS) {
            spins++;
            Thread.onSpinWait();
        } else if (yields < YIELDS) {
            yields++;
            Thread.yield();
        } else {
            LockSupport.parkNanos(this, parkNanos);
            parkNanos = Math.min(maxParkNanos, parkNanos << 1);
        }
    }

    public void reset() {
        spins = 0;
        yields = 0;
        parkNanos = MIN_PARK_NANOS;
    }
}
