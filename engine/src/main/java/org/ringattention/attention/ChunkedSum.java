package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;

/**
 * A sum of many tile products kept in two levels: products are added into {@link #part}, and the
 * part is folded into {@link #total} when a block from another {@link Kernels#CHUNK}-wide region of
 * positions arrives. With small blocks this gives the chunked summation the kernels use inside one
 * large block, so the rounding error of a sum over n keys (or queries) stays near
 * (CHUNK + n/CHUNK)·u whatever the block size.
 *
 * <p>Folding by region of absolute positions, not by count of terms, keeps results independent of
 * skipped tiles: a tile whose terms are all zero (a row it hides completely) changes nothing
 * whether it is absorbed or skipped. Rows are scaled together when the online softmax rescales
 * them.
 */
final class ChunkedSum {

    private static final long NONE = Long.MIN_VALUE;

    final float[] total;
    final float[] part;
    private long region = NONE;
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
        region = NONE;
    }

    /**
     * Announces a block whose first position is {@code position} in sequence {@code sequence} (a
     * head, for sums over several heads): folds first when the part holds another region's terms.
     */
    void startBlock(int sequence, int position) {
        long r = ((long) sequence << 32) | (position / Kernels.CHUNK);
        if (region != NONE && r != region) {
            fold();
        }
        region = r;
    }

    /** total += part; part = 0. */
    void fold() {
        for (int i = 0; i < length; i++) {
            total[i] += part[i];
            part[i] = 0f;
        }
        region = NONE;
    }

    /** Multiplies elements [from, from + n) of both levels by {@code alpha}. */
    void scale(int from, int n, float alpha) {
        for (int i = from; i < from + n; i++) {
            total[i] *= alpha;
            part[i] *= alpha;
        }
    }
}
