package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/** dQ, dK and dV of the loss whose gradient with respect to O is dO; shaped like q, k and v. */
public record Gradients(Tensor dq, Tensor dk, Tensor dv) {
}
