package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionSpec.CausalAlign;

/**
 * {@link RowSample}'s edge rows against the rules its class comment states, found here by brute
 * force over the rows (which keys each row sees, by the per-pair rule), for both alignments, N_q
 * above, equal to and below N_k, causal, windows with one or two sides; and {@code choose}'s
 * split of the sample between edge rows and random ones.
 */
class RowSampleTest {

    private static final int B = RowSample.BLOCK;
    private static final AttentionSpec D = AttentionSpec.DEFAULT;

    @Test
    void edgesHoldEveryRowTheRulesName() {
        int[][] lengths = {{300, 200}, {200, 300}, {1000, 1000}, {97, 1025}, {1025, 97}, {1, 1}, {5, 700}};
        AttentionSpec[] specs = {D.withCausal(true), D.withWindow(5), D.withWindow(10, 3), D.withWindow(300),
            D.withWindow(-1, 2), D.withWindow(130, -1), D.withWindow(0, 0), D.withWindow(200, 140)};
        for (int[] n : lengths) {
            AttentionShape shape = new AttentionShape(1, 1, 1, n[0], n[1], 4);
            for (AttentionSpec s : specs) {
                for (CausalAlign align : CausalAlign.values()) {
                    AttentionSpec spec = s.withCausalAlign(align);
                    LinkedHashSet<Integer> edges = RowSample.edges(shape, spec);
                    for (int row : expectedEdges(shape, spec)) {
                        assertTrue(edges.contains(row), "row " + row + " of " + shape + " " + spec + ": " + edges);
                    }
                }
            }
        }
    }

    @Test
    void edgesHoldTheFirstRowsOfSegments() {
        int n = 1000;
        long[] ids = new long[n];
        for (int i = 0; i < n; i++) {
            ids[i] = i < 10 ? 0 : i < 11 ? 1 : i / 100 + 2;
        }
        AttentionShape shape = new AttentionShape(1, 1, 1, n, n, 4);
        LinkedHashSet<Integer> edges = RowSample.edges(shape, D.withSegments(SegmentIds.of(ids, 1, n)));
        for (int row : new int[] {0, n - 1, 9, 10, 11}) {
            assertTrue(edges.contains(row), "row " + row + ": " + edges);
        }
        long boundaries = edges.stream().filter(i -> i % 100 == 0 && i > 0).count();
        assertTrue(boundaries >= 4, "starts spread over the sequence: " + edges);
    }

    @Test
    void chooseTakesTheFirstEdgesThenRandomRows() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 4096, 4096, 8);
        long[] ids = new long[4096];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i / 300;
        }
        AttentionSpec[] specs = {D, D.withCausal(true), D.withWindow(300),
            D.withWindow(300).withSegments(SegmentIds.of(ids, 1, 4096))};
        for (AttentionSpec spec : specs) {
            List<Integer> edges = new ArrayList<>();
            for (int e : RowSample.edges(shape, spec)) {
                if (e >= 0 && e < 4096 && !edges.contains(e)) {
                    edges.add(e);
                }
            }
            for (int count : new int[] {1, 2, 3, 9, 20, 40, 3000, 5000}) {
                int want = Math.min(count, 4096);
                int[] rows = RowSample.choose(shape, spec, count, 11);
                assertEquals(want, rows.length, spec + ", " + count + " rows");
                for (int i = 1; i < rows.length; i++) {
                    assertTrue(rows[i] > rows[i - 1], "increasing and distinct");
                }
                assertTrue(rows[0] >= 0 && rows[rows.length - 1] < 4096);
                // edge rows: 8 or half the sample, whichever is more, never more than the sample
                int edgeSlots = Math.min(want, Math.max(8, (want + 1) / 2));
                for (int e : edges.subList(0, Math.min(edgeSlots, edges.size()))) {
                    assertTrue(Arrays.binarySearch(rows, e) >= 0, "edge " + e + " in " + count + " rows of " + spec);
                }
            }
        }
        assertArrayEquals(new int[] {0, 4095}, RowSample.choose(shape, D.withCausal(true), 2, 3));
        assertArrayEquals(new int[] {0}, RowSample.choose(shape, D.withWindow(300), 1, 3));
    }

    /**
     * The edge rows in range, first occurrence only, in the order the class comment gives them:
     * that order decides which rows a small sample takes, and no edge row may be added that the
     * rules do not name. Each list is worked out by hand in its comment (p = i + offset).
     */
    @Test
    void edgesComeInTheOrderOfTheClassComment() {
        // offset −100: rows 99 | 100 see no key | the first; block edges p = 127 (227), p = 0, 128 (100, 228)
        assertEdges(List.of(0, 299, 99, 100, 227, 228), 300, 200, D.withCausal(true));
        // offset −1700: 1699 | 1700; p = 127, 255 (1827, 1955); p = 0, 128, 256 (1700, 1828, 1956)
        assertEdges(List.of(0, 1999, 1699, 1700, 1827, 1955, 1828, 1956), 2000, 300, D.withCausal(true));
        // L = 4, offset −100: as causal, then p − L = 1 (105), p − L = 0 (104); every row sees a key;
        // right block edges 227; 100, 228; left block edges p − L = 0, 128 (104, 232)
        assertEdges(List.of(0, 299, 99, 100, 105, 104, 227, 228, 232), 300, 200, D.withWindow(5));
        // top-left, L = 4: p − L = 1 (5), 0 (4); row 100 is the last to see key 96, 101 sees none;
        // right block edges p = 127 + 128k (127, 511, 1023), p = 128k (0, 512, 1024); left p − 4 = 128k (4, 388, 900)
        assertEdges(List.of(0, 1024, 5, 4, 100, 101, 127, 511, 1023, 512, 388, 900), 1025, 97,
                D.withWindow(5).withCausalAlign(CausalAlign.TOP_LEFT));
        // (0, 5): every row sees a key; p − L = 1 (1); right block edges p + 5 = 127, 255 (122, 250), 128, 256
        // (123, 251); left block edges p = 0, 128, 256
        assertEdges(List.of(0, 299, 1, 122, 250, 123, 251, 128, 256), 300, 300, D.withWindow(0, 5));
        // segments of 100 rows: the first two starts and the rows before them, then every start
        long[] ids = new long[400];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i / 100;
        }
        assertEdges(List.of(0, 399, 100, 99, 200, 199, 300, 299), 400, 400,
                D.withSegments(SegmentIds.of(ids, 1, 400)));
    }

    /**
     * Packed sequences, each on its own lengths (p = i + o_s, o_s = CK[s] + n_k − n_q − CQ[s]
     * bottom-right, CK[s] − CQ[s] top-left), in the class comment's order: first and last rows of
     * the chosen sequences, then each one's right and left edges, then its block edges. Worked out
     * by hand in the comments.
     */
    @Test
    void packedSequencesHaveTheirOwnEdgesInOrder() {
        // ten sequences of 10 × 10, W = 1: eight chosen (t · 9 / 7: 0, 1, 2, 3, 5, 6, 7, 9), their first
        // and last rows, then p − L = CK[s] + 1: each one's second row (its last row sees a key)
        List<Integer> ten = List.of(0, 99, 9, 10, 19, 20, 29, 30, 39, 50, 59, 60, 69, 70, 79, 90, 1, 11, 21, 31,
                51, 61, 71, 91);
        assertEdges(ten, 100, 100, D.withWindow(1).withVarlen(cu(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100)));
        // the same rows when a sequence without queries (the fifth) is left out of the choice
        SequenceLengths oneEmpty = SequenceLengths.of(longs(0, 10, 20, 30, 40, 40, 50, 60, 70, 80, 90, 100),
                longs(0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 110));
        assertEdges(ten, 100, 110, D.withWindow(1).withVarlen(oneEmpty));
        // queries 0|5|25|30, keys 0|20|22|40: o = 15, −3, 10 bottom-right; causal: only sequence 1
        // has rows that see none of its keys (p < 20: rows 5..22), so 22 | 23
        SequenceLengths three = SequenceLengths.of(longs(0, 5, 25, 30), longs(0, 20, 22, 40));
        assertEdges(List.of(0, 29, 4, 5, 24, 25, 22, 23), 30, 40, D.withCausal(true).withVarlen(three));
        // top-left, o = 0, 15, −3, window (3, 2): every row sees a key; p − L = CK[s] + 1 and CK[s]:
        // rows 4, 3; 9, 8; 29, 28; sequence 1's last row to see key 21 is 9, so 10 sees none
        assertEdges(List.of(0, 29, 4, 5, 24, 25, 3, 9, 8, 10, 28), 30, 40,
                D.withWindow(3, 2).withCausalAlign(CausalAlign.TOP_LEFT).withVarlen(three));
        // bottom-right, window (3, −1): no row drops a sequence's first key, none outruns its keys
        assertEdges(List.of(0, 29, 4, 5, 24, 25), 30, 40, D.withWindow(3, -1).withVarlen(three));
        // 300 × 200, then a sequence without queries, then 10 queries without keys: two chosen;
        // o = −100: causal as one 300 × 200 sequence; window (4, −1): rows 105, 104, block edge 232;
        // window (0, −1): rows 101, 100, block edge 228
        SequenceLengths gaps = SequenceLengths.of(longs(0, 300, 300, 310), longs(0, 200, 210, 210));
        assertEdges(List.of(0, 309, 299, 300, 99, 100, 227, 228), 310, 210, D.withCausal(true).withVarlen(gaps));
        assertEdges(List.of(0, 309, 299, 300, 105, 104, 232), 310, 210, D.withWindow(4, -1).withVarlen(gaps));
        assertEdges(List.of(0, 309, 299, 300, 101, 100, 228), 310, 210, D.withWindow(0, -1).withVarlen(gaps));
        // 100 × 100, then 1000 queries over 200 keys from key 100: o = 0, −800. Window (−1, 100):
        // sequence 1's rows see a key from p + 100 = 100, row 800; block edges p + 100 = 127 (row
        // 27) and 128 (28) in sequence 0; 827, 955, 1083 and 828, 956, 1084 in sequence 1
        SequenceLengths longOne = SequenceLengths.of(longs(0, 100, 1100), longs(0, 100, 300));
        assertEdges(List.of(0, 1099, 99, 100, 799, 800, 27, 28, 827, 955, 1083, 828, 956, 1084), 1100, 300,
                D.withWindow(-1, 100).withVarlen(longOne));
        // window (100, −1): sequence 1 drops key 100 from row 1001 (p − 100 = 101); block edge p − 100
        // = 128 + 100 from its first whole window (row 1000): row 1028
        assertEdges(List.of(0, 1099, 99, 100, 1001, 1000, 1028), 1100, 300,
                D.withWindow(100, -1).withVarlen(longOne));
    }

    @Test
    void packedSequencesNameOnlyTheirOwnRows() {
        // one sequence of 20 queries over 5 keys, top-left, window (2, −1): rows 3, 2 drop and hold
        // key 0; row 6 is the last to see key 4, row 7 the first to see none
        assertEdges(List.of(0, 19, 3, 2, 6, 7), 20, 5, D.withWindow(2, -1).withCausalAlign(CausalAlign.TOP_LEFT)
                .withVarlen(SequenceLengths.of(longs(0, 20), longs(0, 5))));
        // ten sequences of 32 × 32, W = 1, eight chosen (not the fifth nor the ninth): first and last
        // rows, second rows, and no block edge, though the block edge after sequences 3 and 7 (p = 128,
        // 256) is the first row of a sequence that was not chosen
        long[] c = longs(0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320);
        assertEdges(List.of(0, 319, 31, 32, 63, 64, 95, 96, 127, 160, 191, 192, 223, 224, 255, 288, 1, 33, 65, 97, 161,
                193, 225, 289), 320, 320, D.withWindow(1).withVarlen(SequenceLengths.of(c, c)));
    }

    private static SequenceLengths cu(long... both) {
        return SequenceLengths.of(both, both);
    }

    private static long[] longs(long... x) {
        return x;
    }

    private static void assertEdges(List<Integer> want, int nq, int nk, AttentionSpec spec) {
        List<Integer> got = new ArrayList<>();
        for (int e : RowSample.edges(new AttentionShape(1, 1, 1, nq, nk, 4), spec)) {
            if (e >= 0 && e < nq && !got.contains(e)) {
                got.add(e);
            }
        }
        assertEquals(want, got, nq + " x " + nk + " " + spec);
    }

    /** Rows the class comment names, found by brute force; all in [0, N_q). */
    private static List<Integer> expectedEdges(AttentionShape shape, AttentionSpec spec) {
        int nq = shape.qLen();
        int nk = shape.kvLen();
        long offset = spec.causalAlign() == CausalAlign.TOP_LEFT ? 0 : nk - nq;
        long left = spec.windowLeft();
        long right = spec.windowRight();
        List<Integer> want = new ArrayList<>(List.of(0, nq - 1));
        Integer firstSeeing = null; // the first row whose right edge reaches key 0
        Integer lastSeeing = null; // the last row whose left edge is within the keys
        for (int i = 0; i < nq; i++) {
            long p = i + offset;
            if (firstSeeing == null && (right < 0 || p + right >= 0)) {
                firstSeeing = i;
            }
            if (left < 0 || p - left <= nk - 1) {
                lastSeeing = i;
            }
        }
        if (right >= 0 && firstSeeing != null) {
            addIn(want, nq, firstSeeing - 1, firstSeeing);
            for (int residue : new int[] {B - 1, 0}) {
                addFirstAndLast(want, nq, firstSeeing, i -> Math.floorMod(i + offset + right, B) == residue);
            }
        }
        if (left >= 0) {
            addIn(want, nq, (int) (left + 1 - offset)); // p − L = 1
            if (lastSeeing != null) {
                addIn(want, nq, lastSeeing, lastSeeing + 1);
            }
            int whole = (int) Math.max(0, Math.min(nq, left - offset));
            addFirstAndLast(want, nq, whole, i -> Math.floorMod(i + offset - left, B) == 0);
        }
        return want;
    }

    private static void addIn(List<Integer> rows, int nq, long... candidates) {
        for (long r : candidates) {
            if (r >= 0 && r < nq) {
                rows.add((int) r);
            }
        }
    }

    private static void addIn(List<Integer> rows, int nq, int... candidates) {
        for (int r : candidates) {
            addIn(rows, nq, (long) r);
        }
    }

    private static void addFirstAndLast(List<Integer> rows, int nq, int from,
            java.util.function.IntPredicate matches) {
        int first = -1;
        int last = -1;
        for (int i = from; i < nq; i++) {
            if (matches.test(i)) {
                first = first < 0 ? i : first;
                last = i;
            }
        }
        if (first >= 0) {
            rows.add(first);
            rows.add(last);
        }
    }
}
