package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * Packed variable-length sequences (FlashAttention's varlen): cumulative lengths CQ and CK, each
 * [S + 1], with CQ[0] = CK[0] = 0, non-decreasing, CQ[S] = N_q and CK[S] = N_k of a batch of one.
 * Sequence s holds queries [CQ[s], CQ[s+1]) and keys [CK[s], CK[s+1]), and its queries see only
 * its keys. Each sequence is aligned on its own lengths n_q = CQ[s+1] − CQ[s], n_k = CK[s+1] − CK[s]:
 * query i of sequence s sits at the key position
 * <pre>
 *   p(i) = CK[s] + (i − CQ[s]) + (n_k − n_q)    bottom-right
 *   p(i) = CK[s] + (i − CQ[s])                  top-left
 * </pre>
 * so windows, causality and ALiBi distances |p(i) − j| act inside each sequence as they would on
 * it alone. A sequence may be empty on either side (its queries then see no key).
 */
public final class SequenceLengths {

    private final int[] cq;
    private final int[] ck;

    private SequenceLengths(int[] cq, int[] ck) {
        this.cq = cq;
        this.ck = ck;
    }

    /** Checks and wraps cumulative query and key lengths (copied), each [S + 1]. */
    public static SequenceLengths of(long[] cuSeqlensQ, long[] cuSeqlensK) {
        Objects.requireNonNull(cuSeqlensQ, "cuSeqlensQ");
        Objects.requireNonNull(cuSeqlensK, "cuSeqlensK");
        int[] q = checked(cuSeqlensQ, "cu_seqlens_q");
        int[] k = checked(cuSeqlensK, "cu_seqlens_k");
        if (q.length != k.length) {
            throw new IllegalArgumentException("cu_seqlens_q holds " + (q.length - 1) + " sequences, cu_seqlens_k "
                    + (k.length - 1) + " (they must have the same length S + 1)");
        }
        return new SequenceLengths(q, k);
    }

    private static int[] checked(long[] cu, String name) {
        if (cu.length < 2) {
            throw new IllegalArgumentException(name + " needs at least 2 values (S + 1 for S >= 1 sequences), got "
                    + cu.length);
        }
        if (cu[0] != 0) {
            throw new IllegalArgumentException(name + " must start at 0, got " + cu[0]);
        }
        int[] out = new int[cu.length];
        for (int s = 1; s < cu.length; s++) {
            if (cu[s] < cu[s - 1]) {
                throw new IllegalArgumentException(name + " must not decrease: [" + (s - 1) + "] = " + cu[s - 1]
                        + " > [" + s + "] = " + cu[s]);
            }
            if (cu[s] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(name + "[" + s + "] = " + cu[s] + " is too large");
            }
            out[s] = (int) cu[s];
        }
        return out;
    }

    /** The number of sequences S. */
    public int count() {
        return cq.length - 1;
    }

    /** The first query of sequence s (s = S gives N_q). */
    public int queryStart(int s) {
        return cq[s];
    }

    /** The first key of sequence s (s = S gives N_k). */
    public int keyStart(int s) {
        return ck[s];
    }

    /** The sequence that holds query i (0 ≤ i &lt; N_q). */
    public int ofQuery(int i) {
        return find(cq, i);
    }

    /** The sequence that holds key j (0 ≤ j &lt; N_k). */
    public int ofKey(int j) {
        return find(ck, j);
    }

    /** The last s with cu[s] ≤ x (so empty sequences are passed over). */
    private static int find(int[] cu, int x) {
        int lo = 0, hi = cu.length - 2;
        while (lo < hi) {
            int mid = (lo + hi + 1) >>> 1;
            if (cu[mid] <= x) {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        return lo;
    }

    /** p(i) − i for the queries of sequence s. */
    long offset(int s, boolean bottomRight) {
        long o = (long) ck[s] - cq[s];
        return bottomRight ? o + (ck[s + 1] - ck[s]) - (cq[s + 1] - cq[s]) : o;
    }

    /** Checks that these sequences fill a problem of {@code shape} (a batch of one, ends at N_q and N_k). */
    public void check(AttentionShape shape) {
        if (shape.batch() != 1) {
            throw new IllegalArgumentException("cu_seqlens need a batch of 1 (sequences packed along N), got B="
                    + shape.batch());
        }
        if (cq[cq.length - 1] != shape.qLen()) {
            throw new IllegalArgumentException("cu_seqlens_q must end at the query length " + shape.qLen() + ", got "
                    + cq[cq.length - 1]);
        }
        if (ck[ck.length - 1] != shape.kvLen()) {
            throw new IllegalArgumentException("cu_seqlens_k must end at the key length " + shape.kvLen() + ", got "
                    + ck[ck.length - 1]);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SequenceLengths s && Arrays.equals(s.cq, cq) && Arrays.equals(s.ck, ck);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(cq) * 31 + Arrays.hashCode(ck);
    }

    @Override
    public String toString() {
        return "varlen(" + count() + ")";
    }
}
