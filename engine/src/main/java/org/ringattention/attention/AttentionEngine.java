package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/**
 * One attention computation, whichever algorithm runs it: the seam a model layer, the CLI and
 * golden verification take instead of branching over {@link VanillaAttention},
 * {@link BlockwiseAttention} and {@link org.ringattention.ring.RingAttention}.
 *
 * <p>q is [B, Hq, Nq, d], k and v [B, Hkv, Nk, d]; {@link #attend} gives O and LSE of
 * softmax(scale · Q Kᵀ, masked) V and {@link #gradients} dQ, dK, dV of Σ dO ∘ O. Results are
 * float32 tensors; inputs must be finite (an {@link IllegalArgumentException} names the first NaN
 * or ±∞). Implementations are deterministic: the same inputs give the same bits on every call.
 *
 * <p>The methods are named {@code attend} and {@code gradients}, not forward and backward, because
 * the ring's {@code forward} and {@code backward} also return what the ring measured.
 */
public interface AttentionEngine {

    /** O [B, Hq, Nq, d] and LSE [B, Hq, Nq]. */
    AttentionOutput attend(Tensor q, Tensor k, Tensor v, AttentionSpec spec);

    /**
     * dQ, dK and dV of Σ dO ∘ O, given {@code fwd}, the result of {@link #attend} on the same inputs
     * (an engine may use its O and LSE, or recompute them).
     */
    Gradients gradients(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec);

    /** A short description for reports: the algorithm and its settings. */
    String describe();
}
