package org.ringattention.ring;

/**
 * A simulated interconnect: each hop of a ring takes {@code latencySeconds} plus
 * bytes / {@code bytesPerSecond}, counted from the moment both ends are ready (as a DMA engine would
 * start it). A transfer copies the bytes (as a real link would) and then waits out whatever time the
 * model still asks for; with neither set, a hop costs what the copy costs.
 *
 * <p>The paper's overlap condition: a step of c queries against c keys (d per head, H heads)
 * computes 4·c²·d·H FLOPs and sends K and V, 2·c·d·H·4 bytes in float32; sending hides behind
 * computing when 4·c²·d·H / F ≥ 8·c·d·H / B, that is when c ≥ 2·F / B (F in FLOP/s, B in bytes/s).
 */
public record LinkModel(double bytesPerSecond, double latencySeconds) {

    /** No simulation: a hop costs its copy. */
    public static final LinkModel UNTHROTTLED = new LinkModel(Double.POSITIVE_INFINITY, 0);

    public LinkModel {
        if (!(bytesPerSecond > 0)) {
            throw new IllegalArgumentException("link bandwidth must be > 0 bytes/s, got " + bytesPerSecond);
        }
        if (!(latencySeconds >= 0) || Double.isInfinite(latencySeconds)) {
            throw new IllegalArgumentException("link latency must be >= 0 and finite, got " + latencySeconds);
        }
    }

    /** The time the model asks for a hop of {@code bytes}, in nanoseconds. */
    public long nanosFor(long bytes) {
        double seconds = latencySeconds + (Double.isInfinite(bytesPerSecond) ? 0 : bytes / bytesPerSecond);
        return (long) Math.min(Long.MAX_VALUE / 2, seconds * 1e9);
    }

    /** The time the model asks for {@code bytes} more on a hop already under way (no latency). */
    public long bandwidthNanos(long bytes) {
        return Double.isInfinite(bytesPerSecond) ? 0 : (long) Math.min(Long.MAX_VALUE / 2, bytes / bytesPerSecond * 1e9);
    }

    public boolean isSimulated() {
        return latencySeconds > 0 || !Double.isInfinite(bytesPerSecond);
    }
}
