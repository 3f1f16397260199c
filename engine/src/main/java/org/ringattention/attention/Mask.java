package org.ringattention.attention;

import java.util.Arrays;

/**
 * The one place that decides which keys a query sees and what is done to its scores.
 *
 * <p>Query row i (0 ≤ i &lt; N_q) sits at the aligned position p(i) = i + N_k − N_q (bottom-right,
 * the default: the last query sees every key) or p(i) = i (top-left). Key j sits at position j.
 * Query i sees key j when all rules in force allow it:
 * <pre>
 *   window (L, R):  p(i) − L ≤ j ≤ p(i) + R     (L or R = −1: that side unbounded)
 *   causal:         R = 0, so j ≤ p(i)           (window W: causal with L = W − 1)
 *   segments:       seg[b, i] = seg[b, j]        (N_q = N_k)
 *   cu_seqlens:     i and j in the same sequence s, and p(i) = CK[s] + (i − CQ[s]) + (n_k − n_q)
 *                   bottom-right or CK[s] + (i − CQ[s]) top-left ({@link SequenceLengths})
 *   keep mask:      keep[b, h, i, j]             ([B|1, H|1, N_q, N_k], broadcast; AND)
 * </pre>
 * The score of a visible pair starts as the scaled product and is then, in this order,
 * <pre>
 *   soft-capped (C &gt; 0):  s = C · tanh(scale · q_i·k_j / C)       ∂s/∂(scale·q·k) = 1 − tanh²
 *   ALiBi:                s = s − slope(b, h) · |p(i) − j|
 *   bias:                 s = s + bias[b, h, i, j]                ([B|1, H|1, N_q, N_k], broadcast)
 * </pre>
 * ({@link #adjust}); hidden pairs then get −∞. A head's sink logit ({@link #sink}) joins each
 * row's softmax denominator as a key that carries no value. In float32 each step is rounded once, as
 * {@code C * (float) tanh(x / C)} and {@code s - slope * |p − j|} in float arithmetic; the
 * float32 oracle rounds the same steps, so it is the baseline of exactly this computation.
 *
 * <p>Blockwise code asks first about a whole tile of rows [i0, i1) × keys [j0, j1) ({@link #classify}):
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
    private final double softcap; // 0: none
    private final AlibiSlopes alibi; // null: none
    private final AttentionSinks sinks; // null: none
    private final KeepMask keep; // null: none
    private final ScoreBias bias; // null: none
    private final SequenceLengths varlen; // null: none (then p(i) = i + offset)
    private final boolean bottomRight;
    private final Positions queries;
    private final Positions keys;

    private Mask(int left, int right, SegmentIds segments, int offset, double softcap, AlibiSlopes alibi,
            AttentionSinks sinks, KeepMask keep, ScoreBias bias, SequenceLengths varlen, boolean bottomRight,
            Positions queries, Positions keys) {
        this.varlen = varlen;
        this.bottomRight = bottomRight;
        this.sinks = sinks;
        this.keep = keep;
        this.bias = bias;
        this.left = left;
        this.right = right;
        this.segments = segments;
        this.softcap = softcap;
        this.alibi = alibi;
        this.offset = offset;
        this.queries = queries;
        this.keys = keys;
    }

    /** The mask of {@code spec} for {@code shape}; checks the segment ids against the shape. */
    public static Mask of(AttentionSpec spec, AttentionShape shape) {
        shape.checkSegments(spec.segments());
        if (spec.alibi() != null) {
            spec.alibi().check(shape);
        }
        if (spec.sinks() != null) {
            spec.sinks().check(shape);
        }
        if (spec.mask() != null) {
            spec.mask().check(shape);
        }
        if (spec.bias() != null) {
            spec.bias().check(shape);
        }
        if (spec.varlen() != null) {
            spec.varlen().check(shape);
        }
        boolean bottomRight = spec.causalAlign() != AttentionSpec.CausalAlign.TOP_LEFT;
        int offset = bottomRight ? shape.kvLen() - shape.qLen() : 0;
        return new Mask(spec.windowLeft(), spec.windowRight(), spec.segments(), offset, spec.softcap(), spec.alibi(),
                spec.sinks(), spec.mask(), spec.bias(), spec.varlen(), bottomRight, Positions.range(0, shape.qLen()),
                Positions.range(0, shape.kvLen()));
    }

    /**
     * The same rule for a shard of queries and a shard of keys of the whole problem: query row i
     * and key row j of the shards are query {@code queries.at(i)} and key {@code keys.at(j)}.
     */
    public Mask forShards(Positions queries, Positions keys) {
        return new Mask(left, right, segments, offset, softcap, alibi, sinks, keep, bias, varlen, bottomRight, queries,
                keys);
    }

    /** Whether scores change after the scaled product (soft cap, ALiBi): then tiles take the per-element path. */
    public boolean adjustsScores() {
        return softcap > 0 || alibi != null || bias != null;
    }

    /** Whether what a query sees depends on its head (a keep mask per head): then ask with the head. */
    public boolean perHead() {
        return keep != null && keep.perHead();
    }

    /** Whether rows have a sink in their softmax denominator ({@link AttentionSinks}). */
    public boolean hasSinks() {
        return sinks != null;
    }

    /** The sink logit of query head h, −∞ without sinks (a sink that adds nothing). */
    public double sink(int h) {
        return sinks == null ? Double.NEGATIVE_INFINITY : sinks.logit(h);
    }

    /** Whether scores are soft-capped, so that the backward pass needs ∂s/∂(scale·q·k). */
    public boolean softcaps() {
        return softcap > 0;
    }

    /**
     * Turns the scaled products {@code s} of query rows [i0, i0 + rows) × keys [j0, j0 + cols) of
     * head (b, h), row-major with row stride {@code cols}, into scores: soft cap, then ALiBi. When
     * {@code dCap} is not null it receives ∂s/∂(scale·q·k) = 1 − tanh² (soft cap only).
     */
    public void adjust(int b, int h, int i0, int rows, int j0, int cols, float[] s, float[] dCap) {
        int n = rows * cols;
        if (softcap > 0) {
            float c = (float) softcap;
            for (int e = 0; e < n; e++) {
                float t = (float) StrictMath.tanh(s[e] / c);
                s[e] = c * t;
                if (dCap != null) {
                    dCap[e] = 1f - t * t;
                }
            }
        }
        if (alibi != null) {
            float slope = (float) alibi.slope(b, h);
            for (int r = 0; r < rows; r++) {
                long p = aligned(queries.at(i0 + r));
                for (int c = 0, e = r * cols; c < cols; c++, e++) {
                    s[e] -= slope * (float) Math.abs(p - keys.at(j0 + c));
                }
            }
        }
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                int qi = queries.at(i0 + r);
                for (int c = 0, e = r * cols; c < cols; c++, e++) {
                    s[e] += (float) bias.bias(b, h, qi, keys.at(j0 + c));
                }
            }
        }
    }

    /**
     * The same as {@link #adjust(int, int, int, int, int, int, float[], float[])} for float64
     * scores; with {@code float32} every step is rounded to float32 as the float version rounds it.
     */
    public void adjust(int b, int h, int i0, int rows, int j0, int cols, double[] s, double[] dCap, boolean float32) {
        int n = rows * cols;
        if (softcap > 0) {
            double c = float32 ? (float) softcap : softcap;
            for (int e = 0; e < n; e++) {
                double t = StrictMath.tanh(float32 ? (float) (s[e] / c) : s[e] / c);
                if (float32) {
                    t = (float) t;
                }
                s[e] = float32 ? (float) (c * t) : c * t;
                if (dCap != null) {
                    dCap[e] = float32 ? (float) (1 - (float) (t * t)) : 1 - t * t;
                }
            }
        }
        if (alibi != null) {
            double slope = float32 ? (float) alibi.slope(b, h) : alibi.slope(b, h);
            for (int r = 0; r < rows; r++) {
                long p = aligned(queries.at(i0 + r));
                for (int c = 0, e = r * cols; c < cols; c++, e++) {
                    double bias = slope * Math.abs(p - keys.at(j0 + c));
                    s[e] = float32 ? (float) (s[e] - (float) bias) : s[e] - bias;
                }
            }
        }
        if (bias != null) {
            for (int r = 0; r < rows; r++) {
                int qi = queries.at(i0 + r);
                for (int c = 0, e = r * cols; c < cols; c++, e++) {
                    double x = bias.bias(b, h, qi, keys.at(j0 + c));
                    s[e] = float32 ? (float) (s[e] + (float) x) : s[e] + x;
                }
            }
        }
    }

    /** The aligned position p of query {@code qi} (a position in the whole sequence). */
    private long aligned(int qi) {
        return varlen == null ? (long) qi + offset : qi + varlen.offset(varlen.ofQuery(qi), bottomRight);
    }

    /** True when query row i of batch b sees key j, for a mask that is the same for every head (else head 0). */
    public boolean visible(int b, int i, int j) {
        return visible(b, 0, i, j);
    }

    /** True when query row i of head (b, h) sees key j. */
    public boolean visible(int b, int h, int i, int j) {
        int qi = queries.at(i);
        int kj = keys.at(j);
        long p;
        if (varlen == null) {
            p = (long) qi + offset;
        } else {
            int s = varlen.ofQuery(qi);
            if (kj < varlen.keyStart(s) || kj >= varlen.keyStart(s + 1)) {
                return false;
            }
            p = qi + varlen.offset(s, bottomRight);
        }
        if (right >= 0 && kj > p + right) {
            return false;
        }
        if (left >= 0 && kj < p - left) {
            return false;
        }
        return (segments == null || segments.id(b, qi) == segments.id(b, kj))
                && (keep == null || keep.keep(b, h, qi, kj));
    }

    /** {@link #classify(int, int, int, int, int, int)} for head 0 (a mask that is the same for every head). */
    public Visibility classify(int b, int i0, int i1, int j0, int j1) {
        return classify(b, 0, i0, i1, j0, j1);
    }

    /** What query rows [i0, i1) of head (b, h) see of keys [j0, j1); both ranges non-empty. */
    public Visibility classify(int b, int h, int i0, int i1, int j0, int j1) {
        Visibility window = varlen == null
                ? window(queries.at(i0) + (long) offset, queries.at(i1 - 1) + (long) offset, keys.at(j0), keys.at(j1 - 1))
                : sequences(i0, i1, j0, j1);
        if (window == Visibility.HIDDEN) {
            return Visibility.HIDDEN;
        }
        boolean full = window == Visibility.FULL;
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
        if (keep != null) { // an arbitrary mask: count the tile's visible pairs
            long seen = 0;
            for (int i = i0; i < i1; i++) {
                for (int j = j0; j < j1; j++) {
                    seen += visible(b, h, i, j) ? 1 : 0;
                }
            }
            return seen == 0 ? Visibility.HIDDEN
                    : seen == (long) (i1 - i0) * (j1 - j0) ? Visibility.FULL : Visibility.PARTIAL;
        }
        return full ? Visibility.FULL : Visibility.PARTIAL;
    }

    /** The window's verdict on queries at aligned positions pFirst..pLast (increasing) × keys kFirst..kLast. */
    private Visibility window(long pFirst, long pLast, int kFirst, int kLast) {
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
        return full ? Visibility.FULL : Visibility.PARTIAL;
    }

    /**
     * The verdict of cu_seqlens and the window together: the tile splits into the sub-tiles of the
     * sequences its rows and keys share (positions increase, so each is a run of rows × a run of
     * keys), each judged by the window with its sequence's alignment. Full only when the whole tile
     * lies in one sequence.
     */
    private Visibility sequences(int i0, int i1, int j0, int j1) {
        int sFirst = varlen.ofQuery(queries.at(i0));
        int sLast = varlen.ofQuery(queries.at(i1 - 1));
        int tFirst = varlen.ofKey(keys.at(j0));
        int tLast = varlen.ofKey(keys.at(j1 - 1));
        if (sFirst == sLast && tFirst == tLast) {
            if (sFirst != tFirst) {
                return Visibility.HIDDEN;
            }
            long o = varlen.offset(sFirst, bottomRight);
            return window(queries.at(i0) + o, queries.at(i1 - 1) + o, keys.at(j0), keys.at(j1 - 1));
        }
        for (int s = Math.max(sFirst, tFirst), last = Math.min(sLast, tLast); s <= last; s++) {
            int r0 = i0 + queries.countBelow(i0, i1, varlen.queryStart(s));
            int r1 = i0 + queries.countBelow(i0, i1, varlen.queryStart(s + 1));
            int c0 = j0 + keys.countBelow(j0, j1, varlen.keyStart(s));
            int c1 = j0 + keys.countBelow(j0, j1, varlen.keyStart(s + 1));
            if (r0 < r1 && c0 < c1) {
                long o = varlen.offset(s, bottomRight);
                if (window(queries.at(r0) + o, queries.at(r1 - 1) + o, keys.at(c0), keys.at(c1 - 1))
                        != Visibility.HIDDEN) {
                    return Visibility.PARTIAL;
                }
            }
        }
        return Visibility.HIDDEN; // no sequence has a visible pair in the tile
    }

    /**
     * Sets to −∞ the scores of pairs hidden from each other in the tile of query rows
     * [i0, i0 + rows) × keys [j0, j0 + cols), stored row-major in {@code scores} with row stride
     * {@code cols}.
     */
    public void apply(int b, int i0, int rows, int j0, int cols, float[] scores) {
        apply(b, 0, i0, rows, j0, cols, scores);
    }

    /** {@link #apply(int, int, int, int, int, float[])} for head (b, h). */
    public void apply(int b, int h, int i0, int rows, int j0, int cols, float[] scores) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            if (segments == null && keep == null) {
                // the window hides a prefix and a suffix of each row: fill them
                int first;
                int end;
                if (varlen == null) {
                    long p = (long) queries.at(i0 + r) + offset;
                    first = left >= 0 ? keys.countBelow(j0, j0 + cols, p - left) : 0;
                    end = right >= 0 ? Math.max(first, keys.countBelow(j0, j0 + cols, p + right + 1)) : cols;
                } else { // the sequence's keys, narrowed by the window
                    int qi = queries.at(i0 + r);
                    int s = varlen.ofQuery(qi);
                    long p = qi + varlen.offset(s, bottomRight);
                    long lo = left >= 0 ? Math.max(varlen.keyStart(s), p - left) : varlen.keyStart(s);
                    long hi = right >= 0 ? Math.min(varlen.keyStart(s + 1), p + right + 1) : varlen.keyStart(s + 1);
                    first = keys.countBelow(j0, j0 + cols, lo);
                    end = Math.max(first, keys.countBelow(j0, j0 + cols, hi));
                }
                Arrays.fill(scores, base, base + first, Float.NEGATIVE_INFINITY);
                Arrays.fill(scores, base + end, base + cols, Float.NEGATIVE_INFINITY);
                continue;
            }
            for (int c = 0; c < cols; c++) {
                if (!visible(b, h, i0 + r, j0 + c)) {
                    scores[base + c] = Float.NEGATIVE_INFINITY;
                }
            }
        }
    }

    /** {@link #apply(int, int, int, int, int, int, double[])} for head 0 (a mask that is the same for every head). */
    public void apply(int b, int i0, int rows, int j0, int cols, double[] scores) {
        apply(b, 0, i0, rows, j0, cols, scores);
    }

    /** The same as {@link #apply(int, int, int, int, int, int, float[])} for float64 scores. */
    public void apply(int b, int h, int i0, int rows, int j0, int cols, double[] scores) {
        for (int r = 0; r < rows; r++) {
            int base = r * cols;
            for (int c = 0; c < cols; c++) {
                if (!visible(b, h, i0 + r, j0 + c)) {
                    scores[base + c] = Double.NEGATIVE_INFINITY;
                }
            }
        }
    }
}
