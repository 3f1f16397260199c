package org.ringattention.attention;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeSet;

/**
 * Which query rows a sampled verification checks ({@link SampledAttention}): the rows where
 * mistakes hide first, then rows drawn at random (from a seed, so a run can be repeated) up to
 * the count asked for. Rows where mistakes hide, in this order:
 * <ul>
 *   <li>the first and last rows;
 *   <li>with a right edge (causal, or a window's right side R; query i at position p sees keys
 *       up to p + R): the last row that sees no key and the first that sees one; rows whose last
 *       visible key ends a block or begins one ({@code (p + R) mod B = B − 1} or {@code 0},
 *       B = {@value #BLOCK}, the default block and a multiple of smaller powers of two), at the
 *       start, the middle and the end of the sequence;
 *   <li>with a left edge (a window's left side L, W − 1 for a sliding window W): the first row
 *       whose window drops key 0, the last row that sees a key and the first that sees none
 *       (top-left alignment with N_q &gt; N_k), and rows whose first visible key begins a block;
 *   <li>with segments: the first and last rows of segments, spread over the sequence;
 *   <li>with packed sequences (cu_seqlens, {@link SequenceLengths}), each aligned on its own
 *       lengths: for up to {@value #SEQUENCES} sequences spread over the batch (the first and the
 *       last among them), their first and last query rows, then their own right and left edges as
 *       above (rows that see none of their keys, the first row whose window drops their first
 *       key), then their block edges, in place of the whole sequence's.
 * </ul>
 * Edge rows take {@value #EDGE_ROWS} rows or half the count, whichever is more (the first and
 * last rows always), random rows the rest.
 * Rows that see no key (O = 0, LSE = −∞) are among the edge rows whenever the mask has any.
 */
public final class RowSample {

    /** The block size whose edges are sampled. */
    static final int BLOCK = 128;

    /** Edge rows taken even when they are more than half the sample. */
    static final int EDGE_ROWS = 8;

    /** Packed sequences whose edges are sampled. */
    static final int SEQUENCES = 8;

    private RowSample() {
    }

    /** At most {@code count} distinct rows of [0, N_q), increasing; {@code count} ≥ 1. */
    public static int[] choose(AttentionShape shape, AttentionSpec spec, int count, long seed) {
        int nq = shape.qLen();
        int want = Math.min(count, nq);
        TreeSet<Integer> rows = new TreeSet<>();
        List<Integer> edges = new ArrayList<>(edges(shape, spec));
        int edgeSlots = Math.max(Math.min(EDGE_ROWS, want), (want + 1) / 2);
        for (int e : edges) {
            if (rows.size() >= edgeSlots) {
                break;
            }
            if (e >= 0 && e < nq) {
                rows.add(e);
            }
        }
        SplittableRandom rnd = new SplittableRandom(seed);
        if (want > nq / 2) {
            // dense: add rows in a random order until enough (no rejection loop near nq)
            int[] order = new int[nq];
            for (int i = 0; i < nq; i++) {
                order[i] = i;
            }
            for (int i = nq - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
            for (int i = 0; rows.size() < want; i++) {
                rows.add(order[i]);
            }
        } else {
            while (rows.size() < want) {
                rows.add(rnd.nextInt(nq));
            }
        }
        return rows.stream().mapToInt(Integer::intValue).toArray();
    }

    /**
     * Edge rows in order of priority, possibly repeated or out of range. Query row i sits at
     * p = i + offset (offset N_k − N_q bottom-right, 0 top-left) and sees keys p − L ≤ j ≤ p + R
     * (L, R the window's sides, −1 unbounded; causal is R = 0).
     */
    static LinkedHashSet<Integer> edges(AttentionShape shape, AttentionSpec spec) {
        int nq = shape.qLen();
        long offset = spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : (long) shape.kvLen() - nq;
        long left = spec.windowLeft();
        long right = spec.windowRight();
        // rows before firstSeeing see no key (p + R < 0); so do rows after lastSeeing (p − L > N_k − 1)
        int firstSeeing = right < 0 ? 0 : clamp(-offset - right, nq);
        int lastSeeing = left < 0 ? nq - 1 : clamp(shape.kvLen() - 1 + left - offset, nq);
        List<Integer> starts = spec.segments() == null ? List.of() : segmentStarts(spec.segments());
        LinkedHashSet<Integer> e = new LinkedHashSet<>();
        e.add(0);
        e.add(nq - 1);
        if (spec.varlen() != null) {
            varlenEdges(e, spec.varlen(), spec.causalAlign() != AttentionSpec.CausalAlign.TOP_LEFT, left, right);
            return e;
        }
        if (right >= 0) {
            e.add(firstSeeing - 1);
            e.add(firstSeeing);
        }
        if (left >= 0) {
            e.add(clamp(left + 1 - offset, nq)); // p − L = 1: the first row whose window no longer holds key 0
            e.add(clamp(left - offset, nq));
            e.add(lastSeeing);
            e.add(lastSeeing + 1);
        }
        for (int t = 0; t < Math.min(2, starts.size()); t++) {
            e.add(starts.get(t));
            e.add(starts.get(t) - 1);
        }
        if (right >= 0) {
            // the last visible key p + R ends a block or begins one
            addBlockEdges(e, nq, firstSeeing, offset + right, BLOCK - 1);
            addBlockEdges(e, nq, firstSeeing, offset + right, 0);
        }
        if (left >= 0) {
            // the first visible key p − L begins a block, from the first row whose window is whole
            addBlockEdges(e, nq, clamp(left - offset, nq), offset - left, 0);
        }
        for (int i : starts) {
            e.add(i);
            e.add(i - 1);
        }
        return e;
    }

    /**
     * The edges of packed sequences, each on its own: sequence s holds queries [CQ[s], CQ[s+1]) at
     * positions p = i + o_s and keys [CK[s], CK[s+1]); query i sees its keys with
     * p − L ≤ j ≤ p + R. Rows of sequences with no query are none; a sequence with no key sees
     * nothing (its first row stands for it).
     */
    private static void varlenEdges(LinkedHashSet<Integer> e, SequenceLengths varlen, boolean bottomRight, long left,
            long right) {
        List<Integer> seqs = new ArrayList<>();
        for (int s = 0; s < varlen.count(); s++) {
            if (varlen.queryStart(s + 1) > varlen.queryStart(s)) {
                seqs.add(s);
            }
        }
        int take = Math.min(SEQUENCES, seqs.size());
        List<Integer> chosen = new ArrayList<>();
        for (int t = 0; t < take; t++) { // spread, the first and the last included
            int s = seqs.get(take == 1 ? 0 : (int) ((long) t * (seqs.size() - 1) / (take - 1)));
            if (!chosen.contains(s)) {
                chosen.add(s);
            }
        }
        for (int s : chosen) {
            e.add(varlen.queryStart(s));
            e.add(varlen.queryStart(s + 1) - 1);
        }
        for (int s : chosen) {
            int q0 = varlen.queryStart(s);
            int q1 = varlen.queryStart(s + 1);
            long o = varlen.offset(s, bottomRight);
            int k0 = varlen.keyStart(s);
            int k1 = varlen.keyStart(s + 1);
            if (k1 == k0) {
                continue; // sees no key at all
            }
            if (right >= 0) { // p + R ≥ k0 from firstSeeing on
                long firstSeeing = k0 - right - o;
                addWithin(e, q0, q1, firstSeeing - 1);
                addWithin(e, q0, q1, firstSeeing);
            }
            if (left >= 0) {
                addWithin(e, q0, q1, k0 + 1 + left - o); // p − L = k0 + 1: the first row that drops key k0
                addWithin(e, q0, q1, k0 + left - o);
                long lastSeeing = k1 - 1 + left - o; // p − L ≤ k1 − 1
                addWithin(e, q0, q1, lastSeeing);
                addWithin(e, q0, q1, lastSeeing + 1);
            }
        }
        for (int s : chosen) {
            int q0 = varlen.queryStart(s);
            int q1 = varlen.queryStart(s + 1);
            long o = varlen.offset(s, bottomRight);
            int k0 = varlen.keyStart(s);
            if (varlen.keyStart(s + 1) == k0) {
                continue;
            }
            if (right >= 0) {
                int from = (int) Math.max(q0, Math.min(q1, k0 - right - o));
                addBlockEdges(e, q1, from, o + right, BLOCK - 1);
                addBlockEdges(e, q1, from, o + right, 0);
            }
            if (left >= 0) {
                addBlockEdges(e, q1, (int) Math.max(q0, Math.min(q1, k0 + left - o)), o - left, 0);
            }
        }
    }

    /** Adds row i when it lies in [from, to). */
    private static void addWithin(LinkedHashSet<Integer> e, int from, int to, long i) {
        if (i >= from && i < to) {
            e.add((int) i);
        }
    }

    /** Rows from ≤ i &lt; nq with (i + shift) mod BLOCK = residue: the first, one near the middle and the last. */
    private static void addBlockEdges(LinkedHashSet<Integer> e, int nq, int from, long shift, int residue) {
        from = Math.max(0, from);
        long first = from + Math.floorMod(residue - shift - from, BLOCK);
        if (first >= nq) {
            return;
        }
        long last = first + (nq - 1 - first) / BLOCK * BLOCK;
        long middle = first + ((last - first) / 2) / BLOCK * BLOCK;
        e.add((int) first);
        e.add((int) middle);
        e.add((int) last);
    }

    /** Up to eight first rows of segments of batch 0, spread over the sequence. */
    private static List<Integer> segmentStarts(SegmentIds s) {
        List<Integer> starts = new ArrayList<>();
        for (int i = 1; i < s.length(); i++) {
            if (s.id(0, i) != s.id(0, i - 1)) {
                starts.add(i);
            }
        }
        int take = Math.min(8, starts.size());
        List<Integer> spread = new ArrayList<>();
        for (int t = 0; t < take; t++) {
            spread.add(starts.get((int) ((long) t * starts.size() / take)));
        }
        return spread;
    }

    private static int clamp(long i, int nq) {
        return (int) Math.max(-1, Math.min(nq, i));
    }
}
