package org.ringattention.model;

import org.ringattention.attention.Positions;
import org.ringattention.ring.Layout;

/**
 * Which positions of a sequence each of P devices holds through the whole stack: the ring's
 * {@link Layout}, so a device's rows are exactly the query shard the ring gives it. One device
 * holds everything.
 */
public record Sharding(int devices, Layout layout) {

    public static final Sharding SINGLE = new Sharding(1, Layout.CONTIGUOUS);

    public Sharding {
        if (devices < 1) {
            throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        }
        if (layout == null) {
            layout = Layout.defaultFor(true); // the decoder is causal
        }
    }

    /** The positions of each device for a sequence of {@code n} tokens. */
    public Positions[] split(int n) {
        return devices == 1 ? new Positions[] {Positions.range(0, n)} : layout.split(n, devices);
    }
}
