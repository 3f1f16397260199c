package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tensor.Tensor;

/**
 * What a {@link GradientStep} refuses before it makes a task: row statistics not yet computed
 * (gradients cannot start from a D that is missing), a forward buffer, and a query head outside
 * the group it is restricted to; and a query shard given with its forward result that does not
 * fit the problem.
 */
class GradientStepTest {

    @Test
    void aStepWaitsForItsRowStatisticsAndTakesOnlyHeadsOfTheGroup() {
        // GQA: two query heads share the one key/value head
        AttentionShape shape = new AttentionShape(1, 2, 1, 8, 8, 4);
        ShardAttention sa = new ShardAttention(Kernels.scalar(), shape, AttentionSpec.DEFAULT, 4, 4);
        Tensor q = Tensor.zeros(1, 2, 8, 4);
        Tensor kv = Tensor.zeros(1, 1, 8, 4);
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, 8), Tensor.zeros(1, 2, 8, 4), new float[2 * 8]);
        Tensor wrongHeads = Tensor.zeros(1, 1, 8, 4);
        IllegalArgumentException misfit = assertThrows(IllegalArgumentException.class,
                () -> sa.queryShard(1, wrongHeads, Positions.range(0, 8), wrongHeads, new float[8]));
        assertEquals("query shard " + wrongHeads.shape() + " does not fit " + shape, misfit.getMessage());
        IllegalArgumentException forForward = assertThrows(IllegalArgumentException.class,
                () -> sa.queryShard(1, wrongHeads, Positions.range(0, 8)));
        assertEquals(misfit.getMessage(), forForward.getMessage(), "and the same without a forward result");
        RowStatistics stats = sa.rowStatistics(qs, Tensor.zeros(1, 2, 8, 4));
        KvShard backward = sa.kvBuffer(8, true);
        sa.load(backward, 0, kv, kv, Positions.range(0, 8));

        IllegalStateException early = assertThrows(IllegalStateException.class, () -> sa.gradientStep(stats, backward));
        assertEquals("the row statistics of query shard 0 are not computed (0 of 2 heads)", early.getMessage());
        TaskScheduler.runHere(stats, null);

        KvShard forward = sa.kvBuffer(8, false);
        sa.load(forward, 0, kv, kv, Positions.range(0, 8));
        assertMessage("the key/value shard of a gradient step needs a backward buffer",
                () -> sa.gradientStep(stats, forward));
        assertMessage("query head 2 of a group of 2", () -> sa.gradientStep(stats, backward, 2));
        assertMessage("query head -2 of a group of 2", () -> sa.gradientStep(stats, backward, -2));
        // the heads there are, and all of them (−1): one task per key/value head and key block
        assertEquals(2, sa.gradientStep(stats, backward, 1).count());
        assertEquals(2, sa.gradientStep(stats, backward, -1).count());
    }

    private static void assertMessage(String message, Runnable r) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }
}
