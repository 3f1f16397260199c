package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ringattention.tensor.Tensor;

/**
 * The parts a spec is built from, on their own: ALiBi slopes and sink logits (indexing, checks
 * against the shape), the row positions a shard carries (validation, gather and scatter in runs,
 * counting, text), and what a mask reports about itself (whether it adjusts scores, varies by
 * head, has sinks). The passes reach these only through whole problems, where a wrong flag often
 * just takes a slower path to the same result.
 */
class ScoreRulePartsTest {

    private static final AttentionSpec D = AttentionSpec.DEFAULT;
    private static final AttentionShape SHAPE = new AttentionShape(2, 3, 1, 4, 5, 2);

    @Test
    void alibiSlopesIndexByBatchAndHead() {
        AlibiSlopes perHead = AlibiSlopes.perHead(new double[] {0.5, 0.25, 0.125});
        assertFalse(perHead.batched());
        assertEquals(1, perHead.batch());
        assertEquals(3, perHead.heads());
        assertEquals(0.25, perHead.slope(0, 1));
        assertEquals(0.25, perHead.slope(1, 1), "per-head slopes are the same in every batch");
        assertEquals("alibi[3]", perHead.toString());

        AlibiSlopes both = AlibiSlopes.perBatchAndHead(new double[] {1, 2, 3, 4, 5, 6}, 2, 3);
        assertTrue(both.batched());
        assertEquals(2, both.batch());
        assertEquals(3, both.heads());
        assertEquals(2, both.slope(0, 1));
        assertEquals(6, both.slope(1, 2));
        assertEquals(4, both.slope(1, 0));
        assertEquals("alibi[2, 3]", both.toString());

        both.check(SHAPE);
        perHead.check(SHAPE);
        assertMessage("ALiBi slopes have shape [3, 1], expected [3] or [2, 3]",
                () -> AlibiSlopes.perBatchAndHead(new double[] {1, 2, 3}, 3, 1).check(SHAPE));
        assertMessage("ALiBi slopes have shape [1, 3], expected [3] or [2, 3]",
                () -> AlibiSlopes.perBatchAndHead(new double[] {1, 2, 3}, 1, 3).check(SHAPE));
        assertMessage("ALiBi slopes hold 3 values, not [2, 3]",
                () -> AlibiSlopes.perBatchAndHead(new double[] {1, 2, 3}, 2, 3));
        assertMessage("ALiBi slope 1 is not finite: NaN", () -> AlibiSlopes.perHead(new double[] {1, Double.NaN}));
        assertEquals(AlibiSlopes.perHead(new double[] {1, 2}), AlibiSlopes.perHead(new double[] {1, 2}));
        assertNotEquals(AlibiSlopes.perHead(new double[] {1, 2}), AlibiSlopes.perBatchAndHead(new double[] {1, 2}, 1, 2));
    }

    @Test
    void sinkLogitsArePerQueryHead() {
        AttentionSinks sinks = AttentionSinks.of(new double[] {-1.5, 0, 2.5});
        assertEquals(3, sinks.heads());
        assertEquals(-1.5, sinks.logit(0));
        assertEquals(2.5, sinks.logit(2));
        sinks.check(SHAPE);
        assertMessage("sinks have shape [2], expected [3] (one logit per query head)",
                () -> AttentionSinks.of(new double[] {1, 2}).check(SHAPE));
        assertMessage("sinks need one logit per query head, got none", () -> AttentionSinks.of(new double[0]));
        assertMessage("sink logit 1 is not finite: Infinity",
                () -> AttentionSinks.of(new double[] {0, Double.POSITIVE_INFINITY}));
        assertMessage("sinks have shape [2], expected [3] (one logit per query head)",
                () -> Mask.of(D.withSinks(AttentionSinks.of(new double[] {1, 2})), SHAPE));
        assertThrows(IllegalArgumentException.class,
                () -> Mask.of(D.withBias(ScoreBias.of(new double[12], 1, 1, 4, 3)), SHAPE), "a bias of 3 keys for 5");
        assertThrows(IllegalArgumentException.class,
                () -> Mask.of(D.withAlibi(AlibiSlopes.perHead(new double[] {1, 2})), SHAPE), "2 slopes for 3 heads");
        AttentionSinks one = AttentionSinks.of(new double[] {7});
        assertEquals(7, one.logit(0), "a single head is allowed");

        Mask m = Mask.of(D.withSinks(sinks), SHAPE);
        assertTrue(m.hasSinks());
        assertEquals(2.5, m.sink(2));
        assertFalse(Mask.of(D, SHAPE).hasSinks());
        assertEquals(Double.NEGATIVE_INFINITY, Mask.of(D, SHAPE).sink(1), "no sinks: a sink that adds nothing");
    }

    @Test
    void aMaskSaysWhetherItAdjustsScoresOrVariesByHead() {
        Mask plain = Mask.of(D.withCausal(true).withSegments(null), SHAPE);
        assertFalse(plain.adjustsScores());
        assertFalse(plain.perHead());
        assertFalse(plain.softcaps());
        assertTrue(Mask.of(D.withSoftcap(3), SHAPE).adjustsScores());
        assertTrue(Mask.of(D.withSoftcap(3), SHAPE).softcaps());
        assertTrue(Mask.of(D.withAlibi(AlibiSlopes.perHead(new double[] {1, 2, 3})), SHAPE).adjustsScores());
        assertTrue(Mask.of(D.withBias(ScoreBias.of(new double[20], 1, 1, 4, 5)), SHAPE).adjustsScores());
        assertFalse(Mask.of(D.withSinks(AttentionSinks.of(new double[] {0, 0, 0})), SHAPE).adjustsScores(),
                "a sink changes the denominator, not the scores");

        boolean[] keep = new boolean[4 * 5];
        keep[3] = true;
        assertFalse(Mask.of(D.withMask(KeepMask.of(keep, 1, 1, 4, 5)), SHAPE).perHead(), "one mask for every head");
        assertTrue(Mask.of(D.withMask(KeepMask.of(new boolean[3 * 4 * 5], 1, 3, 4, 5)), SHAPE).perHead());
    }

    @Test
    void positionsAreRangesOrStrictlyIncreasingLists() {
        Positions r = Positions.range(3, 4);
        assertEquals(4, r.length());
        assertEquals(3, r.at(0));
        assertEquals(6, r.at(3));
        assertEquals("[3, 7)", r.toString());
        assertEquals(0, Positions.range(0, 0).length(), "an empty range is allowed");
        assertMessage("a range needs start >= 0 and length >= 0, got -1, 2", () -> Positions.range(-1, 2));
        assertMessage("a range needs start >= 0 and length >= 0, got 0, -1", () -> Positions.range(0, -1));

        int[] at = {0, 2, 3, 9};
        Positions p = Positions.of(at);
        at[1] = 5;
        assertEquals(2, p.at(1), "the positions are copied");
        assertEquals("[0, 2, 3, 9]", p.toString());
        assertEquals(0, Positions.of(new int[] {0}).at(0), "position 0 is allowed");
        assertMessage("positions must be >= 0 and increase strictly, row 0: -1", () -> Positions.of(new int[] {-1, 2}));
        assertMessage("positions must be >= 0 and increase strictly, row 2: 4",
                () -> Positions.of(new int[] {1, 4, 4}));
        assertMessage("positions must be >= 0 and increase strictly, row 1: 2", () -> Positions.of(new int[] {3, 2}));

        int[] many = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
        assertEquals("[1, 2, ... 512] (10 rows)", Positions.of(many).toString());
        assertEquals("[1, 2, 4, 8, 16, 32, 64, 128]", Positions.of(java.util.Arrays.copyOf(many, 8)).toString());
    }

    @Test
    void positionsCountTheRowsBelowAPosition() {
        Positions r = Positions.range(10, 5); // 10..14
        assertEquals(0, r.countBelow(0, 5, 10));
        assertEquals(2, r.countBelow(0, 5, 12));
        assertEquals(1, r.countBelow(1, 5, 12), "counted from row 1");
        assertEquals(4, r.countBelow(1, 5, 100), "at most the rows in [from, to)");
        assertEquals(0, r.countBelow(0, 5, -1000), "none below a position before the range");
        Positions p = Positions.of(new int[] {1, 4, 5, 9});
        assertEquals(0, p.countBelow(0, 4, 1));
        assertEquals(1, p.countBelow(0, 4, 2));
        assertEquals(2, p.countBelow(0, 4, 5));
        assertEquals(3, p.countBelow(0, 4, 6));
        assertEquals(2, p.countBelow(1, 4, 6));
        assertEquals(4, p.countBelow(0, 4, Long.MAX_VALUE));
    }

    @Test
    void gatherAndScatterMoveTheRowsAtThePositions() {
        int d = 3;
        Tensor x = Tensor.zeros(1, 2, 10, d);
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 10; i++) {
                for (int k = 0; k < d; k++) {
                    x.set(0, h, i, k, 100 * h + 10 * i + k);
                }
            }
        }
        Positions p = Positions.of(new int[] {1, 2, 3, 6, 8, 9}); // runs 1-3, 6, 8-9
        float[] got = new float[2 + p.length() * d];
        p.gather(x, 0, 1, got, 2);
        float[] want = new float[got.length];
        for (int r = 0; r < p.length(); r++) {
            for (int k = 0; k < d; k++) {
                want[2 + r * d + k] = 100 + 10 * p.at(r) + k;
            }
        }
        assertArrayEquals(want, got);

        float[] part = new float[2 * d];
        p.gather(x, 0, 1, 2, 2, part, 0); // rows 2 and 3: positions 3 and 6, in two runs
        assertArrayEquals(new float[] {130, 131, 132, 160, 161, 162}, part);
        Positions.range(4, 3).gather(x, 0, 0, 1, 2, part, 0);
        assertArrayEquals(new float[] {50, 51, 52, 60, 61, 62}, part);

        Tensor y = Tensor.zeros(1, 2, 10, d);
        p.scatter(got, 2, y, 0, 1);
        for (int i = 0; i < 10; i++) {
            boolean there = i == 1 || i == 2 || i == 3 || i == 6 || i == 8 || i == 9;
            for (int k = 0; k < d; k++) {
                assertEquals(there ? x.get(0, 1, i, k) : 0, y.get(0, 1, i, k), "row " + i);
                assertEquals(0, y.get(0, 0, i, k), "head 0 untouched");
            }
        }
        Tensor z = Tensor.zeros(1, 1, 10, d);
        Positions.range(7, 3).scatter(new float[] {1, 2, 3, 4, 5, 6, 7, 8, 9}, 0, z, 0, 0);
        assertEquals(0, z.get(0, 0, 6, 2));
        assertEquals(1, z.get(0, 0, 7, 0));
        assertEquals(9, z.get(0, 0, 9, 2));
    }

    private static void assertMessage(String message, Runnable r) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }
}
