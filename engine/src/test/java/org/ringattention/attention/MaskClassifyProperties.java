package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.Mask.Visibility;

/**
 * {@link Mask} against the per-pair rule written out independently here: {@link Mask#visible}
 * follows the rule, {@link Mask#classify} of any tile agrees with the pairs it holds, and
 * {@link Mask#apply} hides exactly the pairs the rule hides. Every mask kind (full, causal, window,
 * segments alone and combined, N_q ≠ N_k both ways) on whole sequences and on shards of arbitrary
 * increasing positions ({@link Mask#forShards}).
 *
 * <p>classify must be sound (HIDDEN: no pair visible; FULL: every pair visible) and FULL complete
 * (every pair visible gives FULL). HIDDEN is complete where the tile's extreme rows decide it:
 * without segments on contiguous positions, and for a causal mask without a window on any
 * positions. Elsewhere (a window over gapped shard positions, segment ids whose ranges overlap
 * without a common id) a HIDDEN tile may be reported PARTIAL; that only costs a masked tile.
 */
class MaskClassifyProperties {

    /** One generated problem: a spec, its sizes, and shard positions (null for whole sequences). */
    record Case(AttentionSpec spec, int batch, int nq, int nk, Positions qPos, Positions kPos, long[] seg) {

        Mask mask() {
            Mask m = Mask.of(spec, new AttentionShape(batch, 1, 1, nq, nk, 4));
            return qPos == null ? m : m.forShards(qPos, kPos);
        }

        int qRows() {
            return qPos == null ? nq : qPos.length();
        }

        int kRows() {
            return kPos == null ? nk : kPos.length();
        }

        int qAt(int i) {
            return qPos == null ? i : qPos.at(i);
        }

        int kAt(int j) {
            return kPos == null ? j : kPos.at(j);
        }

        /** The rule of the class comment of Mask, pair by pair. */
        boolean rule(int b, int i, int j) {
            long p = (long) qAt(i) + nk - nq;
            long k = kAt(j);
            boolean ok = true;
            if (spec.causal()) {
                ok = k <= p;
            }
            if (spec.window() > 0) {
                ok &= p - spec.window() < k && k <= p;
            }
            if (seg != null) {
                ok &= seg[b * nq + qAt(i)] == seg[b * nk + kAt(j)];
            }
            return ok;
        }

        /** Whether classify must find every hidden tile, per the class comment. */
        boolean hiddenIsExact() {
            boolean contiguous = qPos == null || (isRange(qPos) && isRange(kPos));
            return seg == null && (contiguous || spec.window() == 0);
        }

        private static boolean isRange(Positions p) {
            for (int r = 1; r < p.length(); r++) {
                if (p.at(r) != p.at(r - 1) + 1) {
                    return false;
                }
            }
            return true;
        }
    }

    static Case generate(long seed, boolean shards) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int kind = rnd.nextInt(6);
        boolean segmented = kind >= 3;
        int batch = 1 + rnd.nextInt(2);
        int nk = 1 + rnd.nextInt(rnd.nextBoolean() ? 12 : 70);
        int nq = segmented || rnd.nextInt(3) == 0 ? nk : 1 + rnd.nextInt(rnd.nextBoolean() ? 12 : 70);
        long[] seg = null;
        AttentionSpec spec = AttentionSpec.DEFAULT;
        if (segmented) {
            seg = new long[batch * nk];
            int segments = 1 + rnd.nextInt(4);
            boolean sorted = rnd.nextBoolean(); // packed documents, or ids in any order
            for (int b = 0; b < batch; b++) {
                for (int t = 0; t < nk; t++) {
                    seg[b * nk + t] = sorted ? (long) t * segments / nk : rnd.nextInt(segments) - 1L;
                }
            }
            spec = spec.withSegments(SegmentIds.of(seg, batch, nk));
        }
        switch (kind % 3) {
            case 1 -> spec = spec.withCausal(true);
            case 2 -> spec = spec.withWindow(1 + rnd.nextInt(Math.max(1, nk + 2)));
            default -> { }
        }
        if (rnd.nextBoolean()) {
            spec = spec.withScale(0.5);
        }
        if (!shards) {
            return new Case(spec, batch, nq, nk, null, null, seg);
        }
        return new Case(spec, batch, nq, nk, subset(rnd, nq), subset(rnd, nk), seg);
    }

    /** A random non-empty increasing subset of 0..n−1: a range, a stripe, or any subset. */
    private static Positions subset(SplittableRandom rnd, int n) {
        switch (rnd.nextInt(3)) {
            case 0 -> {
                int start = rnd.nextInt(n);
                return Positions.range(start, 1 + rnd.nextInt(n - start));
            }
            case 1 -> {
                int stride = 1 + rnd.nextInt(4);
                int first = rnd.nextInt(Math.min(stride, n));
                return Positions.of(java.util.stream.IntStream.iterate(first, t -> t < n, t -> t + stride).toArray());
            }
            default -> {
                int[] at = java.util.stream.IntStream.range(0, n).filter(t -> rnd.nextInt(3) > 0).toArray();
                return at.length == 0 ? Positions.of(new int[] {rnd.nextInt(n)}) : Positions.of(at);
            }
        }
    }

    @Property
    void visibleFollowsThePerPairRule(@ForAll long seed, @ForAll boolean shards) {
        Case c = generate(seed, shards);
        Mask m = c.mask();
        for (int b = 0; b < c.batch(); b++) {
            for (int i = 0; i < c.qRows(); i++) {
                for (int j = 0; j < c.kRows(); j++) {
                    assertEquals(c.rule(b, i, j), m.visible(b, i, j), c + " pair " + i + "," + j);
                }
            }
        }
    }

    @Property
    void everyTileIsClassifiedAsItsPairsSay(@ForAll long seed, @ForAll boolean shards,
            @ForAll @IntRange(min = 1, max = 9) int tileRows, @ForAll @IntRange(min = 1, max = 9) int tileCols) {
        Case c = generate(seed, shards);
        Mask m = c.mask();
        for (int b = 0; b < c.batch(); b++) {
            for (int i0 = 0; i0 < c.qRows(); i0 += tileRows) {
                int i1 = Math.min(c.qRows(), i0 + tileRows);
                for (int j0 = 0; j0 < c.kRows(); j0 += tileCols) {
                    int j1 = Math.min(c.kRows(), j0 + tileCols);
                    checkTile(c, m, b, i0, i1, j0, j1);
                }
            }
        }
    }

    /** Tiles of every size and offset, not only a grid: exhaustive over small cases. */
    @Property
    void everySubTileIsClassifiedAsItsPairsSay(@ForAll long seed, @ForAll boolean shards) {
        Case c = generate(seed, shards);
        Mask m = c.mask();
        int rows = Math.min(c.qRows(), 14);
        int cols = Math.min(c.kRows(), 14);
        for (int i0 = 0; i0 < rows; i0++) {
            for (int i1 = i0 + 1; i1 <= rows; i1++) {
                for (int j0 = 0; j0 < cols; j0++) {
                    for (int j1 = j0 + 1; j1 <= cols; j1++) {
                        checkTile(c, m, c.batch() - 1, i0, i1, j0, j1);
                    }
                }
            }
        }
    }

    private static void checkTile(Case c, Mask m, int b, int i0, int i1, int j0, int j1) {
        int visible = 0;
        for (int i = i0; i < i1; i++) {
            for (int j = j0; j < j1; j++) {
                visible += c.rule(b, i, j) ? 1 : 0;
            }
        }
        int pairs = (i1 - i0) * (j1 - j0);
        Visibility v = m.classify(b, i0, i1, j0, j1);
        String where = c.spec() + " nq=" + c.nq() + " nk=" + c.nk() + " q=" + c.qPos() + " k=" + c.kPos()
                + " tile [" + i0 + "," + i1 + ")x[" + j0 + "," + j1 + ") b=" + b + ": " + visible + "/" + pairs;
        switch (v) {
            case HIDDEN -> assertEquals(0, visible, where + " classified HIDDEN");
            case FULL -> assertEquals(pairs, visible, where + " classified FULL");
            case PARTIAL -> {
                assertNotEquals(pairs, visible, where + " classified PARTIAL but every pair is visible");
                if (c.hiddenIsExact()) {
                    assertNotEquals(0, visible, where + " classified PARTIAL but no pair is visible");
                }
            }
        }
    }

    @Property
    void applyHidesExactlyTheHiddenPairs(@ForAll long seed, @ForAll boolean shards,
            @ForAll @IntRange(min = 1, max = 20) int tileRows, @ForAll @IntRange(min = 1, max = 20) int tileCols) {
        Case c = generate(seed, shards);
        Mask m = c.mask();
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x9e3779b97f4a7c15L);
        for (int b = 0; b < c.batch(); b++) {
            for (int i0 = 0; i0 < c.qRows(); i0 += tileRows) {
                int rows = Math.min(tileRows, c.qRows() - i0);
                for (int j0 = 0; j0 < c.kRows(); j0 += tileCols) {
                    int cols = Math.min(tileCols, c.kRows() - j0);
                    float[] s = new float[rows * cols];
                    double[] s64 = new double[rows * cols];
                    for (int t = 0; t < s.length; t++) {
                        s[t] = (float) rnd.nextDouble(-4, 4);
                        s64[t] = s[t];
                    }
                    float[] before = s.clone();
                    m.apply(b, i0, rows, j0, cols, s);
                    m.apply(b, i0, rows, j0, cols, s64);
                    for (int r = 0; r < rows; r++) {
                        for (int col = 0; col < cols; col++) {
                            int t = r * cols + col;
                            boolean vis = c.rule(b, i0 + r, j0 + col);
                            float want = vis ? before[t] : Float.NEGATIVE_INFINITY;
                            assertEquals(want, s[t], c.spec() + " float tile at " + (i0 + r) + "," + (j0 + col));
                            assertEquals(want, s64[t], c.spec() + " double tile at " + (i0 + r) + "," + (j0 + col));
                        }
                    }
                }
            }
        }
    }

    @Test
    void theDocumentedExamples() {
        // bottom-right causal: 2 queries over 4 keys sit at positions 2 and 3
        Mask causal = Mask.of(AttentionSpec.DEFAULT.withCausal(true), new AttentionShape(1, 1, 1, 2, 4, 8));
        assertTrue(causal.visible(0, 0, 2));
        assertTrue(!causal.visible(0, 0, 3));
        assertTrue(causal.visible(0, 1, 3));
        assertEquals(Visibility.FULL, causal.classify(0, 0, 2, 0, 3));
        assertEquals(Visibility.PARTIAL, causal.classify(0, 0, 2, 0, 4));
        assertEquals(Visibility.HIDDEN, Mask.of(AttentionSpec.DEFAULT.withCausal(true),
                new AttentionShape(1, 1, 1, 4, 4, 8)).classify(0, 0, 1, 1, 4));
        // window 2: position 3 sees keys 2 and 3 only
        Mask window = Mask.of(AttentionSpec.DEFAULT.withWindow(2), new AttentionShape(1, 1, 1, 4, 4, 8));
        assertEquals(Visibility.HIDDEN, window.classify(0, 3, 4, 0, 2));
        assertEquals(Visibility.FULL, window.classify(0, 3, 4, 2, 4));
        // segments: [0 0 1 1]
        Mask seg = Mask.of(AttentionSpec.DEFAULT.withSegments(SegmentIds.of(new long[] {0, 0, 1, 1}, 1, 4)),
                new AttentionShape(1, 1, 1, 4, 4, 8));
        assertEquals(Visibility.FULL, seg.classify(0, 0, 2, 0, 2));
        assertEquals(Visibility.HIDDEN, seg.classify(0, 0, 2, 2, 4));
        assertEquals(Visibility.PARTIAL, seg.classify(0, 1, 3, 1, 3));
        // shards: rows of a zigzag shard [0, 1, 6, 7] against keys [2, 3, 4, 5] under causal
        Mask sharded = Mask.of(AttentionSpec.DEFAULT.withCausal(true), new AttentionShape(1, 1, 1, 8, 8, 8))
                .forShards(Positions.of(new int[] {0, 1, 6, 7}), Positions.range(2, 4));
        assertEquals(Visibility.HIDDEN, sharded.classify(0, 0, 2, 0, 4));
        assertEquals(Visibility.FULL, sharded.classify(0, 2, 4, 0, 4));
        assertEquals(Visibility.PARTIAL, sharded.classify(0, 1, 3, 0, 4));
        float[] row = new float[4];
        sharded.apply(0, 1, 1, 0, 4, row);
        assertTrue(Arrays.equals(new float[] {Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY,
                Float.NEGATIVE_INFINITY, Float.NEGATIVE_INFINITY}, row));
    }
}
