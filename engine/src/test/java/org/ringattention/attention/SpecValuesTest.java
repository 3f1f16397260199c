package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.ringattention.tensor.Tensor;

/**
 * The small value classes of a problem on their own: the text of a shape and of the per-pair
 * inputs (it is what their refusals print), the indexing of per-pair grids and of the forward
 * result's LSE at every batch and head (the passes' cases mostly broadcast the batch or read
 * batch 0), segment ids, and the smallest block sizes. A wrong index here usually still gives a
 * plausible number, so every element is compared with its row-major position.
 */
class SpecValuesTest {

    private static final AttentionSpec D = AttentionSpec.DEFAULT;

    @Test
    void aShapePrintsEveryDimensionAndItsRefusalsDo() {
        AttentionShape s = new AttentionShape(2, 6, 3, 4, 5, 8);
        assertEquals("B=2 Hq=6 Hkv=3 Nq=4 Nk=5 d=8", s.toString());
        assertMessage("every dimension must be >= 1: B=1 Hq=2 Hkv=1 Nq=0 Nk=5 d=8",
                () -> new AttentionShape(1, 2, 1, 0, 5, 8));
        assertMessage("query heads (3) must be a multiple of key/value heads (2)",
                () -> new AttentionShape(1, 3, 2, 4, 5, 8));
        assertMessage("array sizes q=1 k=2 v=2 do not match B=1 Hq=1 Hkv=1 Nq=1 Nk=1 d=1",
                () -> new SampledAttention(VanillaAttention.Precision.FLOAT64).forward(
                        new AttentionShape(1, 1, 1, 1, 1, 1), D, new double[1], new double[2], new double[2],
                        new int[] {0}));
    }

    @Test
    void lseIsReadAtEveryBatchHeadAndRow() {
        int batch = 3, heads = 2, rows = 5;
        float[] lse = new float[batch * heads * rows];
        for (int e = 0; e < lse.length; e++) {
            lse[e] = e;
        }
        AttentionOutput o = new AttentionOutput(Tensor.zeros(batch, heads, rows, 2), lse, 0, 0);
        for (int b = 0; b < batch; b++) {
            for (int h = 0; h < heads; h++) {
                for (int i = 0; i < rows; i++) {
                    assertEquals((b * heads + h) * rows + i, o.lse(b, h, i), "b " + b + " h " + h + " i " + i);
                }
            }
        }
    }

    @Test
    void perPairGridsIndexRowMajorAndBroadcastTheirOnes() {
        int[][] shapes = {{2, 3, 2, 4}, {2, 1, 2, 4}, {1, 3, 2, 4}, {1, 1, 2, 4}};
        for (int[] g : shapes) {
            int gb = g[0], gh = g[1], rows = g[2], cols = g[3];
            int n = gb * gh * rows * cols;
            double[] values = new double[n];
            boolean[] keep = new boolean[n];
            for (int e = 0; e < n; e++) {
                values[e] = e;
                keep[e] = Integer.bitCount(e) % 2 == 0;
            }
            ScoreBias bias = ScoreBias.of(values, gb, gh, rows, cols);
            KeepMask mask = KeepMask.of(keep, gb, gh, rows, cols);
            PairGrid grid = new PairGrid(gb, gh, rows, cols);
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < 3; h++) {
                    for (int i = 0; i < rows; i++) {
                        for (int j = 0; j < cols; j++) {
                            int at = (((gb == 1 ? 0 : b) * gh + (gh == 1 ? 0 : h)) * rows + i) * cols + j;
                            String where = java.util.Arrays.toString(g) + " at " + b + "," + h + "," + i + "," + j;
                            assertEquals(at, grid.index(b, h, i, j), where);
                            assertEquals(at, bias.bias(b, h, i, j), where);
                            assertEquals(keep[at], mask.keep(b, h, i, j), where);
                        }
                    }
                }
            }
        }
    }

    @Test
    void perPairInputsPrintTheirShapeAndRefusalsNameIt() {
        AttentionShape shape = new AttentionShape(2, 3, 1, 4, 5, 2);
        KeepMask mask = KeepMask.of(new boolean[2 * 4 * 3], 2, 1, 4, 3);
        ScoreBias bias = ScoreBias.of(new double[3 * 4 * 5], 1, 3, 4, 5);
        assertEquals("mask[2, 1, 4, 3]", mask.toString());
        assertEquals("bias[1, 3, 4, 5]", bias.toString());
        assertEquals("[2, 1, 4, 3]", new PairGrid(2, 1, 4, 3).toString());
        assertMessage("the keep mask has shape [2, 1, 4, 3], which does not broadcast to [2, 3, 4, 5]",
                () -> Mask.of(D.withMask(mask), shape));
        assertMessage("the bias has shape [1, 2, 4, 5], which does not broadcast to [2, 3, 4, 5]",
                () -> Mask.of(D.withBias(ScoreBias.of(new double[2 * 4 * 5], 1, 2, 4, 5)), shape));
        assertMessage("the bias has shape [3, 1, 4, 5], which does not broadcast to [2, 3, 4, 5]",
                () -> Mask.of(D.withBias(ScoreBias.of(new double[3 * 4 * 5], 3, 1, 4, 5)), shape));
        assertMessage("the keep mask has shape [1, 1, 3, 5], which does not broadcast to [2, 3, 4, 5]",
                () -> Mask.of(D.withMask(KeepMask.of(new boolean[15], 1, 1, 3, 5)), shape));
        assertMessage("a keep mask of shape [1, 1, 2, 2] needs 4 values, got 3", () -> KeepMask.of(new boolean[3], 1,
                1, 2, 2));
        assertMessage("a bias of shape [1, 2, 1, 2] needs 4 values, got 5", () -> ScoreBias.of(new double[5], 1, 2,
                1, 2));
        assertMessage("a mask or bias needs every dimension >= 1, got [1, 1, 0, 2]", () -> new PairGrid(1, 1, 0, 2));
        assertMessage("bias value 2 is not finite: -Infinity (hide pairs with a keep mask)",
                () -> ScoreBias.of(new double[] {0, 1, Double.NEGATIVE_INFINITY, 3}, 1, 1, 2, 2));
        Mask.of(D.withMask(KeepMask.of(new boolean[2 * 3 * 20], 2, 3, 4, 5)), shape); // the full shape fits
        Mask.of(D.withBias(ScoreBias.of(new double[20], 1, 1, 4, 5)), shape); // and the broadcast one
    }

    @Test
    void perPairInputsAreCopiedAndCompareByValue() {
        boolean[] keep = {true, false, true, true};
        KeepMask m = KeepMask.of(keep, 1, 1, 2, 2);
        keep[0] = false;
        assertEquals(true, m.keep(0, 0, 0, 0), "the mask is copied");
        assertEquals(KeepMask.of(new boolean[] {true, false, true, true}, 1, 1, 2, 2), m);
        assertEquals(KeepMask.of(new boolean[] {true, false, true, true}, 1, 1, 2, 2).hashCode(), m.hashCode());
        assertNotEquals(KeepMask.of(new boolean[] {true, false, true, true}, 1, 1, 1, 4), m, "another shape");
        assertNotEquals(KeepMask.of(new boolean[] {true, true, true, true}, 1, 1, 2, 2), m, "other values");
        assertNotEquals(KeepMask.of(new boolean[] {true, true, true, true}, 1, 1, 2, 2).hashCode(), m.hashCode());

        double[] values = {1, 2, 3, 4};
        ScoreBias s = ScoreBias.of(values, 1, 1, 2, 2);
        values[0] = 9;
        assertEquals(1, s.bias(0, 0, 0, 0), "the bias is copied");
        assertEquals(ScoreBias.of(new double[] {1, 2, 3, 4}, 1, 1, 2, 2), s);
        assertEquals(ScoreBias.of(new double[] {1, 2, 3, 4}, 1, 1, 2, 2).hashCode(), s.hashCode());
        assertNotEquals(ScoreBias.of(new double[] {1, 2, 3, 4}, 1, 2, 1, 2), s, "another shape");
        assertNotEquals(ScoreBias.of(new double[] {1, 2, 3, 5}, 1, 1, 2, 2), s, "other values");
        assertNotEquals(ScoreBias.of(new double[] {1, 2, 3, 5}, 1, 1, 2, 2).hashCode(), s.hashCode());
    }

    @Test
    void alibiSlopesOfOtherValuesHashApart() {
        AlibiSlopes a = AlibiSlopes.perHead(new double[] {0.5, 0.25});
        assertEquals(AlibiSlopes.perHead(new double[] {0.5, 0.25}).hashCode(), a.hashCode());
        assertNotEquals(AlibiSlopes.perHead(new double[] {0.5, 0.125}).hashCode(), a.hashCode());
        assertNotEquals(a, "alibi[2]");
    }

    @Test
    void segmentIdsIndexByBatchAndToken() {
        long[] ids = {7, 7, 8, 1, 2, 2};
        SegmentIds s = SegmentIds.of(ids, 2, 3);
        ids[0] = 0;
        assertEquals(2, s.batch());
        assertEquals(3, s.length());
        long[] read = new long[6];
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < 3; i++) {
                read[b * 3 + i] = s.id(b, i);
            }
        }
        assertArrayEquals(new long[] {7, 7, 8, 1, 2, 2}, read, "copied, row-major [B, N]");
        assertEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 2}, 2, 3), s);
        assertEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 2}, 2, 3).hashCode(), s.hashCode());
        assertNotEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 2}, 3, 2), s, "another batch");
        assertNotEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 2}, 1, 6), s, "another length");
        assertNotEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 3}, 2, 3), s, "other ids");
        assertNotEquals(SegmentIds.of(new long[] {7, 7, 8, 1, 2, 3}, 2, 3).hashCode(), s.hashCode());
        assertMessage("segment ids hold 5 values, not [2, 3]", () -> SegmentIds.of(new long[5], 2, 3));

        AttentionShape shape = new AttentionShape(2, 1, 1, 3, 3, 1);
        shape.checkSegments(s);
        shape.checkSegments(null);
        assertMessage("segment ids have shape [1, 6], expected [2, 3]",
                () -> shape.checkSegments(SegmentIds.of(new long[6], 1, 6)));
        assertMessage("segment ids have shape [2, 2], expected [2, 3]",
                () -> new AttentionShape(2, 1, 1, 3, 3, 1).checkSegments(SegmentIds.of(new long[4], 2, 2)));
        assertMessage("segment ids need equal query and key lengths, got Nq=3, Nk=4",
                () -> new AttentionShape(2, 1, 1, 3, 4, 1).checkSegments(s));
    }

    @Test
    void blocksOfOneAreTheSmallestAccepted() {
        BlockSizes one = new BlockSizes(1, 1);
        assertEquals(1, one.blockQ());
        assertEquals(1, one.blockKv());
        assertEquals("1 x 1", one.toString());
        assertEquals(1, new BlockSizes(1, 128).blockQ());
        assertEquals(1, new BlockSizes(128, 1).blockKv());
        assertMessage("block sizes must be >= 1, got block-q 1, block-kv 0", () -> new BlockSizes(1, 0));
        assertMessage("block sizes must be >= 1, got block-q 0, block-kv 1", () -> new BlockSizes(0, 1));
    }

    @Test
    void theRuleIsDescribedForEitherCoreClass() {
        assertEquals("128 x 128 for every head dimension and pass (Zen 4 class (AMD family 25) cores)",
                BlockSizes.describeRule(CoreClass.HALF_WIDTH_512));
        assertEquals("forward 128 x 128 up to d = 64, 128 x 64 above; backward 128 x 128 up to d = 64, 64 x 64 above"
                + " (full-width 512-bit or other cores)", BlockSizes.describeRule(CoreClass.FULL_WIDTH_512));
        assertEquals(BlockSizes.describeRule(CoreClass.detected()), BlockSizes.describeRule());
    }

    @Test
    void sampledRowsOfTensorsOfAnotherShapeAreRefusedByName() {
        AttentionShape shape = new AttentionShape(1, 2, 1, 3, 4, 2);
        SampledAttention sampled = new SampledAttention(VanillaAttention.Precision.FLOAT64);
        Tensor q = Tensor.zeros(1, 2, 3, 2);
        Tensor kv = Tensor.zeros(1, 1, 4, 2);
        int[] rows = {0, 2};
        assertEquals(2, sampled.forward(shape, D, q, kv, kv, rows).rows().length);
        assertMessage("q [1, 1, 3, 2] does not match " + shape,
                () -> sampled.forward(shape, D, Tensor.zeros(1, 1, 3, 2), kv, kv, rows));
        assertMessage("k [1, 1, 5, 2] does not match " + shape,
                () -> sampled.forward(shape, D, q, Tensor.zeros(1, 1, 5, 2), kv, rows));
        assertMessage("v [1, 2, 4, 2] does not match " + shape,
                () -> sampled.forward(shape, D, q, kv, Tensor.zeros(1, 2, 4, 2), rows));
        assertMessage("q [2, 2, 3, 2] does not match " + shape,
                () -> sampled.forward(shape, D, Tensor.zeros(2, 2, 3, 2), kv, kv, rows));
        assertMessage("k [1, 1, 4, 3] does not match " + shape,
                () -> sampled.forward(shape, D, q, Tensor.zeros(1, 1, 4, 3), kv, rows));
        assertMessage("row 3 is beyond Nq = 3", () -> sampled.forward(shape, D, q, kv, kv, new int[] {1, 3}));
    }

    static void assertMessage(String message, Runnable r) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }
}
