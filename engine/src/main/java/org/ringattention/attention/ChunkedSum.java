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
 *
 * <p>A sum owns its arrays, or is a view of {@code length} elements from {@code base} of two
 * shared arrays (one query block's dQ in a shard's dQ, see {@link QueryGradients}); element i of
 * the sum is {@code total[base + i]}, and kernels add into {@link #target} at {@link #base}.
 */
final class ChunkedSum {

    private static final long NONE = Long.MIN_VALUE;

    final float[] total;
    final float[] part;
    final int base;
    private long region = NONE;
    private int length;

    /** A sum of at most {@code capacity} elements in arrays of its own. */
    ChunkedSum(int capacity) {
        this(new float[capacity], new float[capacity], 0, capacity);
    }

    /** A view of elements [base, base + length) of {@code total} and {@code part}, which must be zero. */
    ChunkedSum(float[] total, float[] part, int base, int length) {
        this.total = total;
        this.part = part;
        this.base = base;
        this.length = length;
    }

    /** Starts a new sum of {@code length} elements, all zero. */
    void reset(int length) {
        this.length = length;
        Arrays.fill(total, base, base + length, 0f);
        Arrays.fill(part, base, base + length, 0f);
        region = NONE;
    }

    /** Starts a sum of {@code length} elements from {@code src[off ..]}: a sum carried over from another worker. */
    void load(float[] src, int off, int length) {
        reset(length);
        System.arraycopy(src, off, total, base, length);
    }

    /** Folds and writes the sum to {@code dst[off ..]}. */
    void store(float[] dst, int off, int length) {
        fold();
        System.arraycopy(total, base, dst, off, length);
    }

    /**
     * Announces a block of {@code count} positions from {@code position} in sequence
     * {@code sequence} (a head, for sums over several heads) of length {@code end}, and returns the
     * array its terms are to be added into, from {@link #base}. Folds first when the part holds
     * another region's terms.
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
        for (int i = base; i < base + length; i++) {
            total[i] += part[i];
            part[i] = 0f;
        }
        region = NONE;
    }

    /** Multiplies elements [from, from + n) of both levels by {@code alpha}. */
    void scale(int from, int n, float alpha) {
        for (int i = base + from; i < base + from + n; i++) {
            total[i] *= alpha;
        }
        if (region != NONE) {
            for (int i = base + from; i < base + from + n; i++) {
                part[i] *= alpha;
            }
        }
    }
}
