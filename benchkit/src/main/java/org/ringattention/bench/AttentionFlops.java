package org.ringattention.bench;

/**
 * The floating-point operations that attention's GFLOP/s count, written once for the whole
 * project (the Python scripts {@code scripts/peer_numpy.py} and {@code scripts/jmh_csv_to_md.py}
 * each hold one documented copy of the same formula).
 *
 * <p>A forward pass over Nq queries and Nk keys of head dimension d, per head, is the two matrix
 * products S = QKᵀ and O = PV, Nq·Nk·d multiply-adds each, 2 operations per multiply-add:
 *
 * <pre>
 *   forward  = 4·Nq·Nk·d·H
 *   causal   = forward / 2          (the useful half; the mask's work is not counted)
 *   backward = 2.5 · forward        (FlashAttention's convention: five products instead of two)
 * </pre>
 *
 * GFLOP/s = these operations / seconds / 10⁹; so the ratio of two GFLOP/s figures of the same
 * configuration is the ratio of their times. The FMA peak ({@link FmaPeak}) counts the same 2
 * operations per multiply-add, so GFLOP/s ÷ peak is the share of the ceiling.
 */
public final class AttentionFlops {

    /** The share of a full pass that a causal mask leaves. */
    public static final double CAUSAL_FACTOR = 0.5;

    /** The backward pass's operations as a multiple of the forward pass's. */
    public static final double BACKWARD_FACTOR = 2.5;

    private AttentionFlops() {
    }

    /** 4·Nq·Nk·d·H: one unmasked forward pass. */
    public static double forward(long queries, long keys, long dim, long heads) {
        return 4.0 * queries * keys * dim * heads;
    }

    /**
     * The operations of one pass over N queries and N keys: {@link #forward}, halved when
     * {@code causal}, times {@link #BACKWARD_FACTOR} when {@code backward}.
     */
    public static double of(long seq, long dim, long heads, boolean causal, boolean backward) {
        return forward(seq, seq, dim, heads) * (causal ? CAUSAL_FACTOR : 1) * (backward ? BACKWARD_FACTOR : 1);
    }

    /** 10⁹ operations per second for {@code flops} done in {@code seconds}. */
    public static double gflops(double flops, double seconds) {
        return flops / seconds / 1e9;
    }
}
