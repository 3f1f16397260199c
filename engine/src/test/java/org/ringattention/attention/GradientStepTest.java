package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tensor.Tensor;

/**
 * What a {@link GradientStep} refuses before it makes a task: row statistics not yet computed
 * (gradients cannot start from a D that is missing), a forward buffer, and a query head outside
 * the group it is restricted to; and a query shard given with its forward result that does not
 * fit the problem. And that tasks whose dQ turn has not come keep their terms aside
 * ({@link PendingQueryTerms}) without changing a bit.
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

    /**
     * Key-block tasks 4, 3, 2, 1 start on threads of their own before task 0 runs, so each finds its
     * turn not come at the first query blocks, fills its pending terms (10 query blocks, 4 held) and
     * waits for the oldest; dQ, dK and dV must be the bits of the tasks run one after the other.
     * With the causal mask, hidden tiles pass their turns through the pending terms too. Each
     * workspace has served a 2-row query shard before, as in a ring whose shards differ in length.
     */
    @Test
    void tasksAheadOfTheirTurnKeepTheirTermsAsideWithTheSameBits() throws Exception {
        for (boolean causal : new boolean[] {false, true}) {
            float[][] inOrder = gradients(causal, false);
            float[][] ahead = assertTimeoutPreemptively(Duration.ofSeconds(120), () -> gradients(causal, true));
            for (int t = 0; t < inOrder.length; t++) {
                assertArrayEquals(inOrder[t], ahead[t], "causal=" + causal + ", gradient " + "dQ dK dV".split(" ")[t]);
            }
        }
    }

    /** dQ, dK and dV of one gradient step of 40 queries and keys, d = 3, blocks 4 × 8 (10 × 5 tiles). */
    private static float[][] gradients(boolean causal, boolean laterTasksFirst) throws Exception {
        int n = 40;
        int d = 3;
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(causal);
        SplittableRandom rnd = new SplittableRandom(7);
        Tensor q = normal(rnd, n, d);
        Tensor k = normal(rnd, n, d);
        Tensor v = normal(rnd, n, d);
        Tensor dOut = normal(rnd, n, d);
        AttentionOutput fwd = new BlockwiseAttention(Kernels.scalar(), 4, 8, 1).forward(q, k, v, spec);
        ShardAttention sa = new ShardAttention(Kernels.scalar(), new AttentionShape(1, 1, 1, n, n, d), spec, 4, 8);
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, n), fwd.out(), fwd.lse());
        RowStatistics stats = sa.rowStatistics(qs, dOut);
        TaskScheduler.runHere(stats, null);
        KvShard kv = sa.kvBuffer(n, true);
        sa.load(kv, 0, k, v, Positions.range(0, n));
        var step = sa.gradientStep(stats, kv);
        assertEquals(5, step.count());
        if (laterTasksFirst) {
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread[] ahead = new Thread[step.count() - 1];
            ShardAttention.Workspace[] ws = new ShardAttention.Workspace[step.count()];
            for (int task = 0; task < ws.length; task++) {
                ws[task] = sa.workspace(n, n);
                useFirstOnTwoQueryRows(sa, k, v, ws[task]);
            }
            for (int task = step.count() - 1; task >= 1; task--) {
                int t = task;
                ahead[t - 1] = new Thread(() -> {
                    try {
                        step.run(ws[t], t);
                    } catch (Throwable e) {
                        failed.set(e);
                    }
                }, "task-" + t);
                ahead[t - 1].start();
            }
            Thread.sleep(100); // long enough, normally, for the later tasks to fill their pending terms
            step.run(ws[0], 0);
            for (Thread th : ahead) {
                th.join();
            }
            assertEquals(null, failed.get());
        } else {
            ShardAttention.Workspace w = sa.workspace(n, n);
            for (int task = 0; task < step.count(); task++) {
                step.run(w, task);
            }
        }
        assertFalse(qs.grads.dq.length == 0);
        return new float[][] {qs.grads.dq.clone(), kv.dk.clone(), kv.dv.clone()};
    }

    /**
     * Runs a gradient step of a 2-row query shard on {@code w} first, as a ring device's workspace
     * may meet a short shard before a long one: the pending terms must still hold whole blocks.
     */
    private static void useFirstOnTwoQueryRows(ShardAttention sa, Tensor k, Tensor v, ShardAttention.Workspace w)
            throws Exception {
        int d = k.dim();
        KvShard kv = sa.kvBuffer(k.rows(), true); // its own: the step adds to the shard's dK and dV
        sa.load(kv, 0, k, v, Positions.range(0, k.rows()));
        SplittableRandom rnd = new SplittableRandom(11);
        QueryShard two = sa.queryShard(1, normal(rnd, 2, d), Positions.range(0, 2), Tensor.zeros(1, 1, 2, d), new float[2]);
        RowStatistics stats = sa.rowStatistics(two, normal(rnd, 2, d));
        TaskScheduler.runHere(stats, null);
        var step = sa.gradientStep(stats, kv);
        for (int task = 0; task < step.count(); task++) {
            step.run(w, task);
        }
    }

    private static Tensor normal(SplittableRandom rnd, int n, int d) {
        float[] x = new float[n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, 1, 1, n, d);
    }

    private static void assertMessage(String message, Runnable r) {
        assertEquals(message, assertThrows(IllegalArgumentException.class, r::run).getMessage());
    }
}
