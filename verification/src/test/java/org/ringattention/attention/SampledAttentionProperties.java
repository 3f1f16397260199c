package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;
import org.ringattention.tensor.Tensor;

/** The sampled oracle is the full vanilla attention's rows, bit for bit; the row sample holds the edges. */
class SampledAttentionProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Property
    void sampledRowsAreTheFullOraclesRows(@ForAll("problems") Problem p) {
        for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
            assertSameRows(p, precision, RowSample.choose(p.shape(), p.spec(), 7, 42));
        }
    }

    @Test
    void everyRowOfTailShapesWithEachMask() {
        AttentionShape[] shapes = {new AttentionShape(1, 2, 1, 97, 61, 59), new AttentionShape(2, 1, 1, 33, 300, 3),
            new AttentionShape(1, 1, 1, 1, 1, 1), new AttentionShape(1, 3, 3, 129, 129, 8)};
        for (AttentionShape s : shapes) {
            AttentionSpec[] specs = {AttentionSpec.DEFAULT, AttentionSpec.DEFAULT.withCausal(true),
                AttentionSpec.DEFAULT.withWindow(5).withScale(0.3),
                s.qLen() == s.kvLen() ? AttentionSpec.DEFAULT.withCausal(true)
                    .withSegments(Problem.segments(s.batch(), s.qLen(), 3, true)) : AttentionSpec.DEFAULT};
            for (AttentionSpec spec : specs) {
                Problem p = Problem.random(s, spec, 11, 2);
                int[] all = RowSample.choose(s, spec, s.qLen(), 1);
                assertThat(all).hasSize(s.qLen());
                for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
                    assertSameRows(p, precision, all);
                    assertTensorsGiveTheSameRows(p, precision, all, null);
                }
            }
        }
    }

    @Test
    void mappedLikeInputsGiveTheSameBitsAsArrays() {
        // segment tensors (as memory-mapped files are), more keys than a block of the oracle's reads,
        // GQA and packed sequences
        AttentionShape s = new AttentionShape(1, 4, 2, 700, 1300, 24);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true).withVarlen(Problem.varlen(700, 1300, 3));
        Problem p = Problem.random(s, spec, 8, 2);
        int[] rows = RowSample.choose(s, spec, 40, 3);
        try (Arena arena = Arena.ofConfined()) {
            for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
                assertSameRows(p, precision, rows);
                assertTensorsGiveTheSameRows(p, precision, rows, arena);
            }
        }
    }

    @Test
    void packedSequencesHaveTheirOwnEdgesSampled() {
        // four sequences, bottom-right causal each: (q, k) lengths (100, 80), (0, 10), (50, 50), (350, 360)
        AttentionShape s = new AttentionShape(1, 1, 1, 500, 500, 4);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true)
                .withVarlen(SequenceLengths.of(new long[] {0, 100, 100, 150, 500}, new long[] {0, 80, 90, 140, 500}));
        int[] rows = RowSample.choose(s, spec, 24, 1);
        // first and last rows of each sequence with queries; sequence 0 sits 20 positions left of its
        // keys, so its rows 0..19 see none of them and row 20 is the first that sees one
        assertThat(rows).contains(0, 99, 100, 149, 150, 499, 19, 20);
        Problem p = Problem.random(s, spec, 4, 1);
        SampledAttention.Rows r = sample(p, VanillaAttention.Precision.FLOAT64, rows);
        for (int i = 0; i < rows.length; i++) {
            assertThat(r.lse()[i] == Double.NEGATIVE_INFINITY).as("row %d", rows[i]).isEqualTo(rows[i] < 20);
        }
        // a window of 30 inside each sequence: sequence 3's query i sits at p = 140 + (i - 150) + 10 = i
        // and sees keys p - 29 .. p, so row 170 is the first whose window drops the sequence's first
        // key 140 and row 169 the last that holds it
        AttentionSpec window = AttentionSpec.DEFAULT.withWindow(30).withVarlen(spec.varlen());
        assertThat(RowSample.choose(s, window, 40, 1)).contains(150, 499, 169, 170, 20, 19);
        for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
            assertSameRows(p, precision, rows);
            assertSameRows(Problem.random(s, window, 4, 1), precision, RowSample.choose(s, window, 40, 1));
        }
    }

    @Test
    void rowsThatSeeNoKeyGiveZeroAndMinusInfinity() {
        // causal with Nq > Nk: query rows below Nq - Nk sit before key 0
        AttentionShape s = new AttentionShape(1, 1, 1, 300, 100, 4);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        int[] rows = RowSample.choose(s, spec, 8, 5);
        assertThat(rows).contains(0, 199, 200, 299);
        SampledAttention.Rows r = sample(Problem.random(s, spec, 1, 1), VanillaAttention.Precision.FLOAT64, rows);
        for (int i = 0; i < rows.length; i++) {
            boolean blind = rows[i] < 200;
            assertThat(r.lse()[i] == Double.NEGATIVE_INFINITY).as("row %d", rows[i]).isEqualTo(blind);
            if (blind) {
                for (int x = 0; x < 4; x++) {
                    assertThat(r.out()[i * 4 + x]).isZero();
                }
            }
        }
    }

    @Test
    void rowsPastAWindowsLeftEdgeAreSampledAndSeeNothing() {
        // top-left, window (10, 3): query i sees keys i - 10 .. i + 3 of 100; rows above 109 see none
        AttentionShape s = new AttentionShape(1, 1, 1, 300, 100, 4);
        AttentionSpec spec = AttentionSpec.DEFAULT.withWindow(10, 3).withCausalAlign(AttentionSpec.CausalAlign.TOP_LEFT);
        int[] rows = RowSample.choose(s, spec, 8, 5);
        assertThat(rows).contains(0, 299, 109, 110, 10, 11);
        Problem p = Problem.random(s, spec, 1, 1);
        SampledAttention.Rows r = sample(p, VanillaAttention.Precision.FLOAT64, rows);
        for (int i = 0; i < rows.length; i++) {
            assertThat(r.lse()[i] == Double.NEGATIVE_INFINITY).as("row %d", rows[i]).isEqualTo(rows[i] > 109);
        }
        for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
            assertSameRows(p, precision, rows);
        }
    }

    @Test
    void sampleHoldsTheEdgesAndRepeats() {
        AttentionShape s = new AttentionShape(1, 1, 1, 4096, 4096, 8);
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        int[] rows = RowSample.choose(s, causal, 32, 9);
        assertThat(rows).hasSize(32).contains(0, 4095, 127, 1920, 2047, 3968).isSorted().doesNotHaveDuplicates();
        assertThat(RowSample.choose(s, causal, 32, 9)).isEqualTo(rows);
        assertThat(RowSample.choose(s, causal, 32, 10)).isNotEqualTo(rows);
        // a window of 300: row 300 is the first whose window drops key 0; the first key of rows
        // 299 + 128 k begins a block (299 + 29 * 128 = 4011 the last of them)
        int[] w = RowSample.choose(s, AttentionSpec.DEFAULT.withWindow(300), 32, 9);
        assertThat(w).contains(299, 300, 4011);
        long[] ids = new long[4096];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = i < 1000 ? 0 : i < 1001 ? 1 : 2;
        }
        AttentionSpec seg = AttentionSpec.DEFAULT.withSegments(SegmentIds.of(ids, 1, 4096));
        assertThat(RowSample.choose(s, seg, 16, 9)).contains(0, 999, 1000, 1001, 4095);
        assertThat(RowSample.choose(s, AttentionSpec.DEFAULT, 2, 9)).containsExactly(0, 4095);
        assertThat(RowSample.choose(new AttentionShape(1, 1, 1, 3, 3, 1), causal, 64, 9)).containsExactly(0, 1, 2);
    }

    @Test
    void everyRuleOfRuleCasesGivesTheOraclesRows() {
        // soft cap, ALiBi, bias and sinks change the scores or the denominator of a sampled row too
        for (Problem p : RuleCases.all()) {
            int[] rows = RowSample.choose(p.shape(), p.spec(), p.shape().qLen(), 3);
            for (VanillaAttention.Precision precision : VanillaAttention.Precision.values()) {
                assertSameRows(p, precision, rows);
            }
        }
    }

    @Test
    void rowsOutsideTheQueriesAreRefusedAndNoRowsAreNone() {
        Problem p = Problem.random(new AttentionShape(1, 1, 1, 5, 4, 2), AttentionSpec.DEFAULT, 1, 1);
        assertThatThrownBy(() -> sample(p, VanillaAttention.Precision.FLOAT64, new int[] {1, 5}))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("row 5 is beyond Nq = 5");
        assertThatThrownBy(() -> sample(p, VanillaAttention.Precision.FLOAT64, new int[] {9}))
                .isInstanceOf(IllegalArgumentException.class).hasMessage("row 9 is beyond Nq = 5");
        SampledAttention.Rows none = sample(p, VanillaAttention.Precision.FLOAT64, new int[0]);
        assertThat(none.out()).isEmpty();
        assertThat(none.lse()).isEmpty();
        assertSameRows(p, VanillaAttention.Precision.FLOAT32, new int[] {4});
    }

    private static void assertSameRows(Problem p, VanillaAttention.Precision precision, int[] rows) {
        VanillaAttention.Result full = p.vanilla(precision);
        SampledAttention.Rows r = sample(p, precision, rows);
        AttentionShape s = p.shape();
        int d = s.dim();
        for (int head = 0; head < s.batch() * s.qHeads(); head++) {
            for (int i = 0; i < rows.length; i++) {
                int at = head * rows.length + i;
                int fullAt = head * s.qLen() + rows[i];
                assertThat(r.lse()[at]).as("%s %s LSE head %d row %d", p, precision, head, rows[i])
                        .isEqualTo(full.lse()[fullAt]);
                for (int x = 0; x < d; x++) {
                    assertThat(r.out()[at * d + x]).as("%s %s O head %d row %d", p, precision, head, rows[i])
                            .isEqualTo(full.out()[fullAt * d + x]);
                }
            }
        }
    }

    /** The tensor overload (heap tensors, or segments of {@code arena} when it is given) gives the arrays' bits. */
    private static void assertTensorsGiveTheSameRows(Problem p, VanillaAttention.Precision precision, int[] rows,
            Arena arena) {
        AttentionShape s = p.shape();
        Tensor q = tensor(p.q(), s.batch(), s.qHeads(), s.qLen(), s.dim(), arena);
        Tensor k = tensor(p.k(), s.batch(), s.kvHeads(), s.kvLen(), s.dim(), arena);
        Tensor v = tensor(p.v(), s.batch(), s.kvHeads(), s.kvLen(), s.dim(), arena);
        SampledAttention.Rows want = sample(p, precision, rows);
        SampledAttention.Rows got = new SampledAttention(precision).forward(s, p.spec(), q, k, v, rows);
        assertThat(got.out()).as("%s %s O", p, precision).isEqualTo(want.out());
        assertThat(got.lse()).as("%s %s LSE", p, precision).isEqualTo(want.lse());
    }

    private static Tensor tensor(float[] x, int b, int h, int n, int d, Arena arena) {
        if (arena == null) {
            return Tensor.wrap(x.clone(), b, h, n, d);
        }
        MemorySegment seg = arena.allocate((long) x.length * Float.BYTES, Float.BYTES);
        MemorySegment.copy(x, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(java.nio.ByteOrder.LITTLE_ENDIAN), 0,
                x.length);
        return Tensor.of(seg, b, h, n, d);
    }

    private static SampledAttention.Rows sample(Problem p, VanillaAttention.Precision precision, int[] rows) {
        return new SampledAttention(precision).forward(p.shape(), p.spec(), Problem.widen(p.q()), Problem.widen(p.k()),
                Problem.widen(p.v()), rows);
    }
}
