package org.ringattention.attention;

import java.util.Arrays;

/**
 * The one place that decides which keys a query sees.
 *
 * <p>Query row i (0 ≤ i &lt; N_q) sits at the aligned position p(i) = i + N_k − N_q (bottom-right,
 * the default: the last query sees every key) or p(i) = i (top-left). Key j sits at position j.
 * Query i sees key j when all rules in force allow it:
 * <pre>
 *   window (L, R):  p(i) − L ≤ j ≤ p(i) + R     (L or R = −1: that side unbounded)
 *   causal:         R = 0, so j ≤ p(i)           (window W: causal with L = W − 1)
 *   segments:       seg[b, i] = seg[b, j]        (N_q = N_k)
 * </pre>
 * Blockwise code asks first about a whole tile of rows [i0, i1) × keys [j0, j1) ({@link #classify}):
 * a {@link Visibility#HIDDEN} tile is skipped, a {@link Visibility#FULL} tile needs no per-element
 * test, and only a {@link Visibility#PARTIAL} tile is masked element by element ({@link #apply}).
 *
 * <p>On a ring, rows and keys are those of shards: {@link #forShards} maps them to their
 * {@link Positions} in the whole sequence first. Positions increase within a shard, so a tile's
 * extreme positions are those of its first and last rows, and causal and window masks still hide
 * a prefix and a suffix of each row.
 */
public final class Mask {

    /** What a tile of queries × keys sees. */
    public enum Visibility {
        /** No query of the tile sees any key of it: skip the tile. */
        HIDDEN,
        /** Some pairs are visible: mask element by element. */
        PARTIAL,
        /** Every query sees every key of the tile. */
        FULL
    }

    private final int left; // −1: unbounded
    private final int right; // −1: unbounded
    private final SegmentIds segments;
    private final int offset; // p(i) − i
    private final Positions queries;
    private final Positions keys;

    private Mask(int left, int right, SegmentIds segments, int offset, Positions queries, Positions keys) {
        this.left = left;
        this.right = right;
        this.segments = segments;
        this.offset = offset;
        this.queries = queries;
        this.keys = keys;
    }

    /** The mask of {@code spec} for {@code shape}; checks the segment ids against the shape. */
    public static Mask of(AttentionSpec spec, AttentionShape shape) {
        shape.checkSegments(spec.segments());
        int offset = spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : shape.kvLen() - shape.qLen();
        return new Mask(spec.windowLeft(), spec.windowRight(), spec.segments(), offset,
                Positions.range(0, shape.qLen()), Positions.range(0, shape.kvLen()));
    }

    /**
     * The same rule for a shard of queries and a shard of keys of the whole problem: query row i
     * and key row j of the shards are query {@code queries.at(i)} and key {@code keys.at(j)}.
     */
    public Mask forShards(Positions queries, Positions keys) {
        return new Mask(left, right, segments, offset, queries, keys);
    }

    /** True when query row i of batch b sees key j. */
    public boolean visible(int b, int i, int j) {
        int qi = queries.at(i);
        int kj = keys.at(j);
        long p = (long) qi + offset;
        if (right >= 0 && kj > p + right) {
            return false;
        }
        if (left >= 0 && kj < p - left) {
            return false;
        }
        return segments == null || segments.id(b, qi) == segments.id(b, kj);
    }

    /** What query rows [i0, i1) of batch b see of keys [j0, j1); both ranges non-empty. */
    public Visibility classify(int b, int i0, int i1, int j0, int j1) {
        long pFirst = (long) queries.at(i0) + offset;
        long pLast = (long) queries.at(i1 - 1) + offset;
        int kFirst = keys.at(j0);
        int kLast = keys.at(j1 - 1);
        boolean full = true;
        if (right >= 0) {
            if (kFirst > pLast + right) {
                return Visibility.HIDDEN; // every key is beyond the window of the last query
            }
            full = kLast <= pFirst + right;
        }
        if (left >= 0) {
            if (kLast < pFirst - left) {
                return Visibility.HIDDEN; // every key is too old even for the first query
            }
            full &= kFirst >= pLast - left;
        }
        if (segments != null) {
            long qMin = Long.MAX_VALUE, qMax = Long.MIN_VALUE, kMin = Long.MAX_VALUE, kMax = Long.MIN_VALUE;
            for (int i = i0; i < i1; i++) {
                long s = segments.id(b, queries.at(i));
                qMin = Math.min(qMin, s);
                qMax = Math.max(qMax, s);
            }
            for (int j = j0; j < j1; j++) {
                long s = segments.id(b, keys.at(j));
                kMin = Math.min(kMin, s);
                kMax = Math.max(kMax, s);
            }
            if (qMax < kMin || kMax < qMin) {
                return Visibility.HIDDEN; // id ranges do not overlap: no pair shares a segment
            }
            full &= qMin == qMax && kMin == kMax;
        }
        return full ? Visibility.FULL : Visibility.PARTIAL;
    }

    /**
     * Sets to −∞ the scores of pairs hidden from each other in the tile of query rows
     * [i0, i0 + rows) × keys [j0, j0 + cols), stored row-major in {@code scores} with row stride
     * {@code cols}.
     */
    public void apply(int b, int i0, int rows, int j0, int cols, float[] scores) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            if (segments == null) {
                // the window hides a prefix and a suffix of each row: fill them
                long p = (long) queries.at(i0 + r) + offset;
                int first = left >= 0 ? keys.countBelow(j0, j0 + cols, p - left) : 0;
                int end = right >= 0 ? Math.max(first, keys.countBelow(j0, j0 + cols, p + right + 1)) : cols;
                Arrays.fill(scores, base, base + first, Float.NEGATIVE_INFINITY);
                Arrays.fill(scores, base + end, base + cols, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (int c = 0; c < cols; c++) {
                if (!visible(b, i0 + r, j0 + c)) {
                    scores[base + c] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    /** The same as {@link #apply(int, int, int, int, int, float[])} for float64 scores. */
    public void apply(int b, int i0, int rows, int j0, int cols, double[] scores) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                if (!visible(b, i0 + r, j0 + c)) {
                    scores[base + c] = Double.NEGATIVE_INFINITY;
                }
            }
        }
    }
}
