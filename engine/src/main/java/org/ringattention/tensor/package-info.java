/**
 * Tensors: float32 arrays of shape [B, H, N, d] in row-major order, on the heap or in a
 * {@link java.lang.foreign.MemorySegment}; NumPy {@code .npy} and {@code .safetensors} reading
 * and writing; bfloat16 conversions.
 */
package org.ringattention.tensor;
