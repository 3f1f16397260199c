package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The mask rule, tile classification, skipped tiles and rows that see no key. */
class MaskProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Provide
    Arbitrary<Problem> semantics() {
        return ProblemArbitraries.semantics();
    }

    /** The pair rule of alignments and windows, written out here from the formulas of {@link Mask}. */
    @Property
    void pairRuleFollowsAlignmentAndWindow(@ForAll("semantics") Problem p) {
        AttentionShape s = p.shape();
        AttentionSpec spec = p.spec();
        Mask mask = Mask.of(spec, s);
        int offset = spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : s.kvLen() - s.qLen();
        int left = spec.windowLeft();
        int right = spec.causal() ? 0 : spec.windowRight();
        for (int b = 0; b < s.batch(); b++) {
            for (int h = 0; h < s.qHeads(); h++) {
                for (int i = 0; i < s.qLen(); i++) {
                    long pos = i + offset;
                    int keyFrom = 0;
                    int keyTo = s.kvLen();
                    SequenceLengths cu = spec.varlen();
                    if (cu != null) { // i's sequence: the one whose query range holds it
                        int q = 0;
                        while (!(cu.queryStart(q) <= i && i < cu.queryStart(q + 1))) {
                            q++;
                        }
                        keyFrom = cu.keyStart(q);
                        keyTo = cu.keyStart(q + 1);
                        int nqs = cu.queryStart(q + 1) - cu.queryStart(q);
                        pos = keyFrom + (i - cu.queryStart(q))
                                + (spec.causalAlign() == AttentionSpec.CausalAlign.TOP_LEFT ? 0 : keyTo - keyFrom - nqs);
                    }
                    for (int j = 0; j < s.kvLen(); j++) {
                        boolean expect = (left < 0 || j >= pos - left) && (right < 0 || j <= pos + right)
                                && j >= keyFrom && j < keyTo
                                && (spec.segments() == null || spec.segments().id(b, i) == spec.segments().id(b, j))
                                && (spec.mask() == null || spec.mask().keep(b, h, i, j));
                        assertThat(mask.visible(b, h, i, j)).as("pair (%d, %d) of head %d of %s", i, j, h, p)
                                .isEqualTo(expect);
                    }
                }
            }
        }
    }

    @Property
    void tileClassificationAgreesWithThePairRuleUnderAlignmentsAndWindows(@ForAll("semantics") Problem p,
            @ForAll("blocks") int bq, @ForAll("blocks") int bkv) {
        tileClassificationAgreesWithThePairRule(p, bq, bkv);
        applyHidesExactlyThePairsTheRuleHides(p, bq, bkv);
    }

    @Property(tries = 50)
    void hiddenTilesAreSkippedUnderAlignmentsAndWindows(@ForAll("semantics") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        hiddenTilesAreSkipped(p, bq, bkv);
    }

    @Property(tries = 50)
    void blockwiseFollowsAlignmentsAndWindows(@ForAll("semantics") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        Accuracy.assertForward(p, p.blockwise(bq, bkv), "blocks " + bq + "x" + bkv);
        Accuracy.assertGradients(p, p.blockwiseGrads(bq, bkv), "blocks " + bq + "x" + bkv);
    }

    @Test
    void topLeftAlignsTheFirstQueryWithTheFirstKey() {
        AttentionShape s = new AttentionShape(1, 1, 1, 2, 5, 4);
        AttentionSpec topLeft = AttentionSpec.DEFAULT.withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT);
        Mask m = Mask.of(topLeft.withCausal(true), s);
        assertThat(m.visible(0, 0, 0)).isTrue();
        assertThat(m.visible(0, 0, 1)).isFalse();
        assertThat(m.visible(0, 1, 1)).isTrue();
        assertThat(m.visible(0, 1, 2)).isFalse();
        // Nq > Nk: top-left leaves no row empty, bottom-right hides the first Nq - Nk rows
        AttentionShape tall = new AttentionShape(1, 1, 1, 5, 2, 4);
        assertThat(Mask.of(topLeft.withCausal(true), tall).visible(0, 0, 0)).isTrue();
        assertThat(Mask.of(AttentionSpec.DEFAULT.withCausal(true), tall).visible(0, 2, 0)).isFalse();
        assertThat(Mask.of(AttentionSpec.DEFAULT.withCausal(true), tall).visible(0, 3, 0)).isTrue();
    }

    @Test
    void windowLeftAndRightBoundEachSide() {
        AttentionShape s = new AttentionShape(1, 1, 1, 10, 10, 4);
        Mask m = Mask.of(AttentionSpec.DEFAULT.withWindow(2, 1), s);
        // query 5 sees keys 3..6
        for (int j = 0; j < 10; j++) {
            assertThat(m.visible(0, 5, j)).as("key %d", j).isEqualTo(j >= 3 && j <= 6);
        }
        Mask rightOnly = Mask.of(AttentionSpec.DEFAULT.withWindow(-1, 2), s);
        assertThat(rightOnly.visible(0, 5, 0)).isTrue();
        assertThat(rightOnly.visible(0, 5, 7)).isTrue();
        assertThat(rightOnly.visible(0, 5, 8)).isFalse();
        assertThat(rightOnly.classify(0, 0, 2, 5, 10)).isEqualTo(Mask.Visibility.HIDDEN);
        assertThat(rightOnly.classify(0, 5, 8, 0, 5)).isEqualTo(Mask.Visibility.FULL);
        assertThat(rightOnly.classify(0, 5, 8, 0, 9)).isEqualTo(Mask.Visibility.PARTIAL);
    }

    @Test
    void olderFormsAreWindowsToo() {
        assertThat(AttentionSpec.DEFAULT.withWindow(5)).isEqualTo(AttentionSpec.DEFAULT.withWindow(4, 0));
        assertThat(AttentionSpec.DEFAULT.withWindow(4, 0).window()).isEqualTo(5);
        assertThat(AttentionSpec.DEFAULT.withWindow(-1, 0)).isEqualTo(AttentionSpec.DEFAULT.withCausal(true));
        assertThat(AttentionSpec.DEFAULT.withWindow(3, 2).causal()).isFalse();
        assertThat(AttentionSpec.DEFAULT.withWindow(3, 2).isFull()).isFalse();
        assertThat(AttentionSpec.DEFAULT.withWindow(-1, -1).isFull()).isTrue();
        assertThat(new AttentionSpec(Double.NaN, false, 7, null).windowLeft()).isEqualTo(6);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AttentionSpec.DEFAULT.withWindow(3, 2).withCausal(true))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("causal");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> AttentionSpec.DEFAULT.withWindow(-2, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThat(AttentionSpec.DEFAULT.withWindow(9).withCausal(false).isFull()).isTrue();
        assertThat(AttentionSpec.CausalAlign.parse("top_left")).isEqualTo(AttentionSpec.CausalAlign.TOP_LEFT);
    }

    @Property
    void tileClassificationAgreesWithThePairRule(@ForAll("problems") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        AttentionShape s = p.shape();
        Mask mask = Mask.of(p.spec(), s);
        for (int bh = 0; bh < s.batch() * s.qHeads(); bh++) {
            int b = bh / s.qHeads();
            int h = bh % s.qHeads();
            for (int i0 = 0; i0 < s.qLen(); i0 += bq) {
                int i1 = Math.min(s.qLen(), i0 + bq);
                for (int j0 = 0; j0 < s.kvLen(); j0 += bkv) {
                    int j1 = Math.min(s.kvLen(), j0 + bkv);
                    int seen = 0;
                    for (int i = i0; i < i1; i++) {
                        for (int j = j0; j < j1; j++) {
                            seen += mask.visible(b, h, i, j) ? 1 : 0;
                        }
                    }
                    Mask.Visibility v = mask.classify(b, h, i0, i1, j0, j1);
                    int all = (i1 - i0) * (j1 - j0);
                    switch (v) {
                        case HIDDEN -> assertThat(seen).as("hidden tile %d..%d x %d..%d", i0, i1, j0, j1).isZero();
                        case FULL -> assertThat(seen).as("full tile %d..%d x %d..%d", i0, i1, j0, j1).isEqualTo(all);
                        case PARTIAL -> assertThat(seen).isBetween(0, all);
                    }
                }
            }
        }
    }

    @Property
    void applyHidesExactlyThePairsTheRuleHides(@ForAll("problems") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        AttentionShape s = p.shape();
        Mask mask = Mask.of(p.spec(), s);
        for (int bh = 0; bh < s.batch() * s.qHeads(); bh++) {
            int b = bh / s.qHeads();
            int h = bh % s.qHeads();
            for (int i0 = 0; i0 < s.qLen(); i0 += bq) {
                int rows = Math.min(bq, s.qLen() - i0);
                for (int j0 = 0; j0 < s.kvLen(); j0 += bkv) {
                    int cols = Math.min(bkv, s.kvLen() - j0);
                    float[] tile = new float[rows * cols];
                    mask.apply(b, h, i0, rows, j0, cols, tile);
                    for (int r = 0; r < rows; r++) {
                        for (int c = 0; c < cols; c++) {
                            boolean hidden = tile[r * cols + c] == Float.NEGATIVE_INFINITY;
                            assertThat(hidden).as("pair (%d, %d) of %s", i0 + r, j0 + c, p)
                                    .isEqualTo(!mask.visible(b, h, i0 + r, j0 + c));
                        }
                    }
                }
            }
        }
    }

    @Property
    void hiddenTilesAreSkipped(@ForAll("problems") Problem p, @ForAll("blocks") int bq, @ForAll("blocks") int bkv) {
        AttentionShape s = p.shape();
        Mask mask = Mask.of(p.spec(), s);
        long expectSkipped = 0;
        long tiles = 0;
        for (int bh = 0; bh < s.batch() * s.qHeads(); bh++) {
            int b = bh / s.qHeads();
            int h = bh % s.qHeads();
            for (int i0 = 0; i0 < s.qLen(); i0 += bq) {
                for (int j0 = 0; j0 < s.kvLen(); j0 += bkv) {
                    tiles++;
                    boolean any = false;
                    for (int i = i0; i < Math.min(s.qLen(), i0 + bq) && !any; i++) {
                        for (int j = j0; j < Math.min(s.kvLen(), j0 + bkv) && !any; j++) {
                            any = mask.visible(b, h, i, j);
                        }
                    }
                    expectSkipped += any ? 0 : 1;
                }
            }
        }
        AttentionOutput out = p.blockwise(bq, bkv);
        if (!hasUnsortedSegments(p)) {
            assertThat(out.tilesSkipped()).as("skipped tiles of %s", p).isEqualTo(expectSkipped);
        } else {
            // Ranges of unsorted ids may overlap without a shared id: then a tile is computed, not skipped.
            assertThat(out.tilesSkipped()).isLessThanOrEqualTo(expectSkipped);
        }
        assertThat(out.tilesComputed() + out.tilesSkipped()).isEqualTo(tiles); // tiles of every head
    }

    /** Sorted ids make id-range overlap the same as a shared id; unsorted ones do not. */
    private static boolean hasUnsortedSegments(Problem p) {
        SegmentIds seg = p.spec().segments();
        if (seg == null) {
            return false;
        }
        for (int b = 0; b < seg.batch(); b++) {
            for (int i = 1; i < seg.length(); i++) {
                if (seg.id(b, i) < seg.id(b, i - 1)) {
                    return true;
                }
            }
        }
        return false;
    }

    @Property
    void rowsThatSeeNoKeyGiveZeros(@ForAll @IntRange(min = 2, max = 60) int nq, @ForAll @IntRange(min = 1, max = 30) int nk,
            @ForAll @IntRange(min = 1, max = 40) int d, @ForAll("blocks") int block, @ForAll long seed) {
        // Causal with Nq > Nk: query i sits at p = i + Nk − Nq < 0 for the first Nq − Nk rows.
        Problem p = Problem.random(new AttentionShape(1, 2, 1, nq + nk, nk, d), AttentionSpec.DEFAULT.withCausal(true),
                seed, 1);
        int blind = p.shape().qLen() - nk;
        AttentionOutput out = p.blockwise(block, block);
        Gradients g = p.blockwiseGrads(block, block);
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Grads refG = p.vanillaGrads(VanillaAttention.Precision.FLOAT64);
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < p.shape().qLen(); i++) {
                boolean seesNothing = i < blind;
                assertThat(out.lse(0, h, i) == Float.NEGATIVE_INFINITY).as("LSE -inf at row %d", i).isEqualTo(seesNothing);
                assertThat(ref.lse()[h * p.shape().qLen() + i] == Double.NEGATIVE_INFINITY).isEqualTo(seesNothing);
                if (seesNothing) {
                    for (int x = 0; x < d; x++) {
                        assertThat(out.out().get(0, h, i, x)).isEqualTo(0f);
                        assertThat(g.dq().get(0, h, i, x)).isEqualTo(0f);
                        assertThat(refG.dq()[(h * p.shape().qLen() + i) * d + x]).isEqualTo(0.0);
                    }
                }
            }
        }
        Accuracy.assertForward(p, out, "block " + block);
        Accuracy.assertGradients(p, g, "block " + block);
    }

    @Test
    void causalIsBottomRightAligned() {
        AttentionShape s = new AttentionShape(1, 1, 1, 2, 5, 4);
        Mask m = Mask.of(AttentionSpec.DEFAULT.withCausal(true), s);
        // query 0 sits at position 3, query 1 at position 4 (the last key)
        assertThat(m.visible(0, 0, 3)).isTrue();
        assertThat(m.visible(0, 0, 4)).isFalse();
        assertThat(m.visible(0, 1, 4)).isTrue();
        Mask w = Mask.of(AttentionSpec.DEFAULT.withWindow(2), s);
        assertThat(w.visible(0, 0, 1)).isFalse();
        assertThat(w.visible(0, 0, 2)).isTrue();
        assertThat(w.visible(0, 0, 3)).isTrue();
        assertThat(w.visible(0, 0, 4)).isFalse();
    }

    @Test
    void packedSequencesSeeOnlyTheirOwnKeysWithTheirOwnAlignment() {
        // sequence 0: queries 0..1, keys 0..4 (Nq < Nk); sequence 1: no query, keys 5..6; sequence 2: queries 2..4, key 7
        SequenceLengths cu = SequenceLengths.of(new long[] {0, 2, 2, 5}, new long[] {0, 5, 7, 8});
        AttentionShape s = new AttentionShape(1, 1, 1, 5, 8, 2);
        Mask causal = Mask.of(AttentionSpec.DEFAULT.withVarlen(cu).withCausal(true), s);
        assertThat(causal.visible(0, 0, 3)).isTrue(); // bottom-right in sequence 0: query 0 sits at key 3
        assertThat(causal.visible(0, 0, 4)).isFalse();
        assertThat(causal.visible(0, 1, 4)).isTrue();
        assertThat(causal.visible(0, 1, 5)).isFalse(); // key 5 is sequence 1's
        assertThat(causal.visible(0, 4, 7)).isTrue(); // the last query of sequence 2 sees its one key
        assertThat(causal.visible(0, 3, 7)).isFalse(); // the others sit before it
        assertThat(causal.visible(0, 4, 1)).isFalse();
        assertThat(causal.classify(0, 2, 5, 0, 7)).isEqualTo(Mask.Visibility.HIDDEN);
        assertThat(causal.classify(0, 0, 2, 0, 3)).isEqualTo(Mask.Visibility.FULL);
        assertThat(causal.classify(0, 0, 5, 0, 8)).isEqualTo(Mask.Visibility.PARTIAL);
        Mask topLeft = Mask.of(AttentionSpec.DEFAULT.withVarlen(cu).withCausal(true)
                .withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT), s);
        assertThat(topLeft.visible(0, 0, 0)).isTrue();
        assertThat(topLeft.visible(0, 0, 1)).isFalse();
        assertThat(topLeft.visible(0, 2, 7)).isTrue(); // sequence 2's first query sits at its first key
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> SequenceLengths.of(new long[] {0, 3, 2}, new long[] {0, 1, 2}))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("decrease");
        org.assertj.core.api.Assertions.assertThatThrownBy(
                () -> Mask.of(AttentionSpec.DEFAULT.withVarlen(SequenceLengths.of(new long[] {0, 4},
                        new long[] {0, 8})), s))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("end at the query length 5");
    }

    @Test
    void segmentsSeparateDocuments() {
        SegmentIds seg = SegmentIds.of(new long[] {7, 7, 9, 9, 9}, 1, 5);
        AttentionShape s = new AttentionShape(1, 1, 1, 5, 5, 2);
        Mask m = Mask.of(AttentionSpec.DEFAULT.withSegments(seg), s);
        assertThat(m.visible(0, 0, 1)).isTrue();
        assertThat(m.visible(0, 1, 2)).isFalse();
        assertThat(m.visible(0, 4, 2)).isTrue();
        Mask mc = Mask.of(AttentionSpec.DEFAULT.withSegments(seg).withCausal(true), s);
        assertThat(mc.visible(0, 2, 4)).isFalse();
        assertThat(mc.classify(0, 0, 2, 2, 5)).isEqualTo(Mask.Visibility.HIDDEN);
        assertThat(m.classify(0, 2, 5, 2, 5)).isEqualTo(Mask.Visibility.FULL);
    }
}
