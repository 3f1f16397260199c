package org.ringattention.ring;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.ringattention.attention.ShardAttention;

/**
 * Rings of devices that hold no shards, for tests of the protocol and its supervision alone: the
 * work decides what each step's tasks do, the links (often {@link ReadyLinks}) what moves. A
 * stall timeout of 10 minutes, which no such test reaches unless it sets its own supervision.
 */
final class ShardlessRing {

    /** How long a test lets one of these rings run before it counts the run as hung. */
    static final Duration HANG = Duration.ofMinutes(5);

    private ShardlessRing() {
    }

    /** {@code count} devices 0 .. count − 1 without queries or shards. */
    static Device[] devices(int count) {
        Device[] ds = new Device[count];
        for (int i = 0; i < count; i++) {
            ds[i] = new Device(i, null, null, null);
        }
        return ds;
    }

    /** A ring of all of {@code ds} (pass 0, no faults) with {@code workers} worker threads. */
    static Ring ring(Device[] ds, boolean gradients, Links links, Ring.Work work, int workers) {
        return new Ring(ds, ds.length, gradients, links, 0, FaultInjector.NONE, work,
                new ShardAttention.Workspace[workers], TimeUnit.MINUTES.toNanos(10), owner -> null);
    }
}
