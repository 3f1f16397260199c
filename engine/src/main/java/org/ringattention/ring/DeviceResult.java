package org.ringattention.ring;

import org.ringattention.attention.Positions;
import org.ringattention.tensor.Tensor;

/**
 * One device's rows of a ring's results: O [B, Hq, n, d] and LSE [B, Hq, n] of its query rows
 * {@code queryRows}; after a backward pass dQ of the same rows and dK, dV [B, Hkv, m, d] of its key
 * rows {@code keyRows} (null after a forward pass only). Row r is token {@code queryRows.at(r)}
 * (or {@code keyRows.at(r)}) of the sequence.
 */
public record DeviceResult(int device, Positions queryRows, Positions keyRows, Tensor out, float[] lse, Tensor dq,
        Tensor dk, Tensor dv, RingReport forward, RingReport backward) {
}
