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
 * them. The part is empty (all zero) exactly when no region is open.
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

    /** Starts a sum of {@code length} elements from {@code src[off ..]}: a sum carried over from another worker. */
    void load(float[] src, int off, int length) {
        reset(length);
        System.arraycopy(src, off, total, 0, length);
    }

    /** Folds and writes the sum to {@code dst[off ..]}. */
    void store(float[] dst, int off, int length) {
        fold();
        System.arraycopy(total, 0, dst, off, length);
    }

    /**
     * Announces a block of {@code count} positions from {@code position} in sequence
     * {@code sequence} (a head, for sums over several heads) of length {@code end}, and returns the
     * array its terms are to be added into. Folds first when the part holds another region's terms.
     * A block that is a whole region by itself goes straight into {@link #total}: with an empty part
     * that is the same arithmetic as adding into the part and folding (0 + x = x), without the fold.
     */
    float[] target(int sequence, int position, int count, int end) {
        long r = ((long) sequence << 32) | (position / Kernels.CHUNK);
        if (region != NONE && r != region) {
            fold();
        }
        if (region == NONE && position % Kernels.CHUNK == 0 && count == Math.min(Kernels.CHUNK, end - position)) {
            return total;
        }
        region = r;
        return part;
    }

    /** total += part; part = 0. */
    void fold() {
        if (region == NONE) {
            return; // the part is empty
        }
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
        }
        if (region != NONE) {
            for (int i = from; i < from + n; i++) {
                part[i] *= alpha;
            }
        }
    }
}
