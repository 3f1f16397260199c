package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

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
                }
            }
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

    private static SampledAttention.Rows sample(Problem p, VanillaAttention.Precision precision, int[] rows) {
        return new SampledAttention(precision).forward(p.shape(), p.spec(), Problem.widen(p.q()), Problem.widen(p.k()),
                Problem.widen(p.v()), rows);
    }
}
