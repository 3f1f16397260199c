/**
 * Tensors: float32 arrays of shape [B, H, N, d] in row-major order, on the heap or in a
 * {@link java.lang.foreign.MemorySegment}, and NumPy {@code .npy} reading and writing.
 */
package org.ringattention.tensor;
