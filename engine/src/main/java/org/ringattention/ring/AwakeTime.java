package org.ringattention.ring;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Time in which the thread that reads this was awake, for timeouts that a stopped or starved
 * process must not trip: each reading adds the time since the last one, except that a gap longer
 * than the reader's poll interval plus {@link #OVERSLEEP_NANOS} (nobody ran meanwhile) adds one
 * poll interval. Used by one thread at a time.
 */
final class AwakeTime {

    static final long OVERSLEEP_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final LongSupplier clock;
    private final long pollNanos;
    private long last;
    private long awake;

    /** Starts counting now, for a reader that reads about every {@code pollNanos}. */
    AwakeTime(LongSupplier clock, long pollNanos) {
        this.clock = clock;
        this.pollNanos = pollNanos;
        this.last = clock.getAsLong();
    }

    /** Reads the clock: the awake nanoseconds since the start or the last {@link #restart}. */
    long read() {
        long now = clock.getAsLong();
        long gap = now - last;
        last = now;
        awake += gap > pollNanos + OVERSLEEP_NANOS ? pollNanos : gap;
        return awake;
    }

    /** Counts from zero again (the time up to the last reading is dropped). */
    void restart() {
        awake = 0;
    }
}
