package org.ringattention.cli;

import org.ringattention.bench.AttentionFlops;

/**
 * The paper's overlap argument for one ring step of a device holding c queries and receiving c
 * keys (head dimension d, H heads, float32), on a device of F FLOP/s and a link of B bytes/s with
 * latency L seconds:
 *
 * <pre>
 *   compute(c)  = 4·c²·d·H / F           (QKᵀ and PV: {@link AttentionFlops#forward})
 *   transfer(c) = L + 8·c·d·H / B        (K and V: 2·c·d·H floats of 4 bytes)
 *   step(c)     = max(compute, transfer) when sending overlaps computing
 * </pre>
 *
 * Sending hides behind computing from the crossover c* on, where compute = transfer:
 * c* = (b + √(b² + 4·a·L)) / (2·a) with a = 4·d·H / F and b = 8·d·H / B; with L = 0 it is
 * c* = 2·F / B (the condition in {@link org.ringattention.ring.LinkModel}).
 */
record OverlapModel(int dim, int heads) {

    /** FLOPs of one step of one device. */
    double flops(long c) {
        return AttentionFlops.forward(c, c, dim, heads);
    }

    /** Bytes one device sends on in one step of the forward pass. */
    long bytes(long c) {
        return 8L * c * dim * heads;
    }

    /** The crossover c* for a device of {@code flopsPerSecond} and the given link. */
    double crossover(double flopsPerSecond, double bytesPerSecond, double latencySeconds) {
        double a = flops(1) / flopsPerSecond;
        double b = 8.0 * dim * heads / bytesPerSecond;
        return (b + Math.sqrt(b * b + 4 * a * latencySeconds)) / (2 * a);
    }

    /**
     * The bandwidth that puts the crossover at {@code c}: from a·c² = L + b·c, B = 8·d·H·c / (a·c² − L);
     * NaN when the latency alone takes as long as computing the step (no bandwidth is fast enough).
     */
    double bandwidthFor(double c, double flopsPerSecond, double latencySeconds) {
        double compute = flops(1) * c * c / flopsPerSecond;
        return compute > latencySeconds ? 8.0 * dim * heads * c / (compute - latencySeconds) : Double.NaN;
    }
}
