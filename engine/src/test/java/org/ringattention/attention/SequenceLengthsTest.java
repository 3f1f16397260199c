package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.ringattention.attention.SpecValuesTest.assertMessage;

import org.junit.jupiter.api.Test;

/**
 * {@link SequenceLengths} on its own: which cumulative lengths it accepts, the sequence of a query
 * or key when some sequences are empty (they are passed over), each sequence's alignment, and the
 * check against a shape. The passes reach varlen only through the slow property classes.
 */
class SequenceLengthsTest {

    // sequence 0: queries 0-1, keys 0-2; 1: no queries, key 3; 2: queries 2-4, keys 4-6
    private static final SequenceLengths L = SequenceLengths.of(new long[] {0, 2, 2, 5}, new long[] {0, 3, 4, 7});

    @Test
    void startsAndTheSequenceOfEachRow() {
        assertEquals(3, L.count());
        int[] qStarts = {0, 2, 2, 5};
        int[] kStarts = {0, 3, 4, 7};
        for (int s = 0; s <= 3; s++) {
            assertEquals(qStarts[s], L.queryStart(s), "query start " + s);
            assertEquals(kStarts[s], L.keyStart(s), "key start " + s);
        }
        int[] ofQuery = {0, 0, 2, 2, 2};
        for (int i = 0; i < ofQuery.length; i++) {
            assertEquals(ofQuery[i], L.ofQuery(i), "query " + i);
        }
        int[] ofKey = {0, 0, 0, 1, 2, 2, 2};
        for (int j = 0; j < ofKey.length; j++) {
            assertEquals(ofKey[j], L.ofKey(j), "key " + j);
        }
        SequenceLengths edges = SequenceLengths.of(new long[] {0, 0, 3, 3}, new long[] {0, 2, 2, 4});
        assertEquals(1, edges.ofQuery(0), "a leading empty sequence is passed over");
        assertEquals(1, edges.ofQuery(2), "so is a trailing one");
        assertEquals(0, edges.ofKey(1));
        assertEquals(2, edges.ofKey(2), "an empty sequence in the middle too");
        SequenceLengths one = SequenceLengths.of(new long[] {0, 4}, new long[] {0, 9});
        assertEquals(1, one.count());
        assertEquals(0, one.ofQuery(3));
        assertEquals(0, one.ofKey(8));
    }

    @Test
    void eachSequenceIsAlignedOnItsOwnLengths() {
        // p(i) − i = CK[s] − CQ[s], plus n_k − n_q bottom-right
        assertEquals(0, L.offset(0, false));
        assertEquals(1, L.offset(0, true));
        assertEquals(1, L.offset(1, false));
        assertEquals(2, L.offset(1, true));
        assertEquals(2, L.offset(2, false));
        assertEquals(2, L.offset(2, true));
        SequenceLengths more = SequenceLengths.of(new long[] {0, 4, 6}, new long[] {0, 2, 6});
        assertEquals(-2, more.offset(0, true));
        assertEquals(-2, more.offset(1, false));
        assertEquals(0, more.offset(1, true));
    }

    @Test
    void badLengthsAreRefusedByName() {
        assertMessage("cu_seqlens_q needs at least 2 values (S + 1 for S >= 1 sequences), got 1",
                () -> SequenceLengths.of(new long[] {0}, new long[] {0, 1}));
        assertMessage("cu_seqlens_k needs at least 2 values (S + 1 for S >= 1 sequences), got 0",
                () -> SequenceLengths.of(new long[] {0, 1}, new long[0]));
        assertMessage("cu_seqlens_q must start at 0, got 1", () -> SequenceLengths.of(new long[] {1, 2},
                new long[] {0, 2}));
        assertMessage("cu_seqlens_k must start at 0, got -1", () -> SequenceLengths.of(new long[] {0, 2},
                new long[] {-1, 2}));
        assertMessage("cu_seqlens_k must not decrease: [1] = 3 > [2] = 2",
                () -> SequenceLengths.of(new long[] {0, 1, 2}, new long[] {0, 3, 2}));
        assertMessage("cu_seqlens_q[1] = 2147483648 is too large",
                () -> SequenceLengths.of(new long[] {0, 1L << 31}, new long[] {0, 1}));
        assertMessage("cu_seqlens_q holds 2 sequences, cu_seqlens_k 1 (they must have the same length S + 1)",
                () -> SequenceLengths.of(new long[] {0, 1, 2}, new long[] {0, 2}));
        assertThrows(NullPointerException.class, () -> SequenceLengths.of(null, new long[] {0, 1}));
        assertThrows(NullPointerException.class, () -> SequenceLengths.of(new long[] {0, 1}, null));
        // the largest accepted: equal neighbours (an empty sequence) and Integer.MAX_VALUE
        SequenceLengths big = SequenceLengths.of(new long[] {0, 0, Integer.MAX_VALUE}, new long[] {0, 1, 1});
        assertEquals(Integer.MAX_VALUE, big.queryStart(2));
    }

    @Test
    void theLengthsMustFillTheProblem() {
        L.check(new AttentionShape(1, 2, 1, 5, 7, 4));
        assertMessage("cu_seqlens need a batch of 1 (sequences packed along N), got B=2",
                () -> L.check(new AttentionShape(2, 1, 1, 5, 7, 4)));
        assertMessage("cu_seqlens_q must end at the query length 6, got 5",
                () -> L.check(new AttentionShape(1, 1, 1, 6, 7, 4)));
        assertMessage("cu_seqlens_k must end at the key length 6, got 7",
                () -> L.check(new AttentionShape(1, 1, 1, 5, 6, 4)));
        assertMessage("cu_seqlens_k must end at the key length 8, got 7",
                () -> Mask.of(AttentionSpec.DEFAULT.withVarlen(L), new AttentionShape(1, 1, 1, 5, 8, 4)));
    }

    @Test
    void lengthsCompareByValue() {
        SequenceLengths same = SequenceLengths.of(new long[] {0, 2, 2, 5}, new long[] {0, 3, 4, 7});
        assertEquals(same, L);
        assertEquals(same.hashCode(), L.hashCode());
        assertNotEquals(SequenceLengths.of(new long[] {0, 2, 3, 5}, new long[] {0, 3, 4, 7}), L, "other queries");
        assertNotEquals(SequenceLengths.of(new long[] {0, 2, 2, 5}, new long[] {0, 3, 5, 7}), L, "other keys");
        assertNotEquals(SequenceLengths.of(new long[] {0, 2, 2, 5}, new long[] {0, 3, 5, 7}).hashCode(), L.hashCode());
        assertNotEquals(L, "varlen(3)");
        assertEquals("varlen(3)", L.toString());
        long[] cq = {0, 4};
        SequenceLengths copied = SequenceLengths.of(cq, new long[] {0, 4});
        cq[1] = 9;
        assertEquals(4, copied.queryStart(1), "the lengths are copied");
    }
}
