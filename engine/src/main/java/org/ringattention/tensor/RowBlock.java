package org.ringattention.tensor;

import java.util.Objects;

/**
 * Consecutive rows of one head of a {@link Tensor}: {@code count} vectors of length {@code dim},
 * contiguous in the tensor's storage. A view: reads and writes go to the tensor itself.
 */
public final class RowBlock {

    private final Tensor tensor;
    private final long base;
    private final int count;
    private final int dim;

    RowBlock(Tensor tensor, long base, int count, int dim) {
        this.tensor = tensor;
        this.base = base;
        this.count = count;
        this.dim = dim;
    }

    public int count() {
        return count;
    }

    public int dim() {
        return dim;
    }

    public float get(int row, int k) {
        Objects.checkIndex(row, count);
        Objects.checkIndex(k, dim);
        return tensor.load(base + (long) row * dim + k);
    }

    public void set(int row, int k, float value) {
        Objects.checkIndex(row, count);
        Objects.checkIndex(k, dim);
        tensor.store(base + (long) row * dim + k, value);
    }

    /** Copies all rows, row-major, into {@code dst} from {@code dstOff}. */
    public void copyTo(float[] dst, int dstOff) {
        tensor.copyOut(base, dst, dstOff, count * dim);
    }

    /** Overwrites all rows from {@code src} (row-major) starting at {@code srcOff}. */
    public void copyFrom(float[] src, int srcOff) {
        tensor.copyIn(src, srcOff, base, count * dim);
    }
}
