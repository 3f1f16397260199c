package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;

/**
 * A sum of many tile products kept in two levels: products are added into {@link #part}, and the
 * part is folded into {@link #total} once it holds at least {@link Kernels#CHUNK} terms. With small
 * blocks this gives the same chunked summation the kernels use inside one large block, so the
 * rounding error of a sum over n keys (or queries) stays near (CHUNK + n/CHUNK)·u whatever the block
 * size. Rows are scaled together when the online softmax rescales them.
 */
final class ChunkedSum {

    final float[] total;
    final float[] part;
    private int pending;
    private int length;

    ChunkedSum(int capacity) {
        total = new float[capacity];
        part = new float[capacity];
    }

    /** Starts a new sum of {@code length} elements, all zero. */
    void reset(int length) {
        this.length = length;
        Arrays.fill(total, 0, length, 0f);
        Arrays.fill(part, 0, length, 0f);
        pending = 0;
    }

    /** Records that {@code terms} more terms were added into {@link #part}; folds after a chunk. */
    void added(int terms) {
        pending += terms;
        if (pending >= Kernels.CHUNK) {
            fold();
        }
    }

    /** total += part; part = 0. */
    void fold() {
        for (int i = 0; i < length; i++) {
            total[i] += part[i];
            part[i] = 0f;
        }
        pending = 0;
    }

    /** Multiplies elements [from, from + n) of both levels by {@code alpha}. */
    void scale(int from, int n, float alpha) {
        for (int i = from; i < from + n; i++) {
            total[i] *= alpha;
            part[i] *= alpha;
        }
    }
}
