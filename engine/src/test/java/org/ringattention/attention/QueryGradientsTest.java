package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;

/**
 * {@link QueryGradients}' turns, driven as the backward pass drives them: one task per key block
 * of a key/value shard, tasks started in increasing order on a pool of workers
 * ({@link TaskScheduler}), each waiting for its turn at every query block's dQ_i, adding its
 * product dS_ij K_j and passing the turn on. dQ must be the same bits for any number of workers,
 * and those of one sum per query block formed key block by key block; the adds at a slot must
 * come in key-block order; a failed task must release the tasks waiting for it. Waits in these
 * tests are bounded by generous timeouts: a hang fails, a slow machine does not.
 */
class QueryGradientsTest {

    private static final Duration HANG = Duration.ofSeconds(120);

    /** A backward-like problem: per head and key block, a [rows × cols] dS tile per query block. */
    record Problem(int heads, int length, int blockRows, int dim, int shards, int keys, int blockCols,
            float[][] keyRows, float[][][] ds) {

        static Problem random(long seed) {
            SplittableRandom rnd = new SplittableRandom(seed);
            int heads = 1 + rnd.nextInt(3);
            int length = 1 + rnd.nextInt(300);
            int blockRows = 1 + rnd.nextInt(64);
            int dim = 1 + rnd.nextInt(9);
            int shards = 1 + rnd.nextInt(3);
            int keys = 1 + rnd.nextInt(400);
            int blockCols = 1 + rnd.nextInt(140);
            float[][] keyRows = new float[shards][keys * dim];
            for (float[] k : keyRows) {
                for (int t = 0; t < k.length; t++) {
                    k[t] = (float) rnd.nextGaussian();
                }
            }
            float[][][] ds = new float[shards][heads][length * keys];
            for (float[][] s : ds) {
                for (float[] h : s) {
                    for (int t = 0; t < h.length; t++) {
                        h[t] = rnd.nextInt(5) == 0 ? 0f : (float) rnd.nextGaussian() * 1e-2f;
                    }
                }
            }
            return new Problem(heads, length, blockRows, dim, shards, keys, blockCols, keyRows, ds);
        }

        int keyBlocks() {
            return (keys + blockCols - 1) / blockCols;
        }

        /** dS of query rows [i0, i0 + rows) × key block [j0, j0 + cols) of a head, row-major. */
        float[] tile(int shard, int head, int i0, int rows, int j0, int cols) {
            float[] t = new float[rows * cols];
            for (int r = 0; r < rows; r++) {
                System.arraycopy(ds[shard][head], (i0 + r) * keys + j0, t, r * cols, cols);
            }
            return t;
        }
    }

    /** What the key-block tasks of one shard add, with the order of arrival at each slot recorded. */
    private static void task(Problem p, QueryGradients g, int shard, int task, int[][] order, int[] arrivals) {
        int head = task / p.keyBlocks();
        int jb = task % p.keyBlocks();
        int j0 = jb * p.blockCols();
        int cols = Math.min(p.blockCols(), p.keys() - j0);
        boolean last = jb == p.keyBlocks() - 1;
        for (int i0 = 0; i0 < p.length(); i0 += p.blockRows()) {
            int rows = Math.min(p.blockRows(), p.length() - i0);
            float[] tile = p.tile(shard, head, i0, rows, j0, cols);
            int slot = g.slot(head, i0);
            ChunkedSum dq = g.awaitTurn(slot, jb);
            if (order != null) {
                order[slot][arrivals[slot]++] = jb; // under the turn: no two tasks here at once
            }
            Kernels.preferred().accumulateProduct(tile, rows, cols, p.keyRows()[shard], j0 * p.dim(), p.dim(),
                    dq.target(shard, j0, cols, p.keys()), dq.base);
            g.pass(slot, jb, last);
        }
    }

    private static float[] run(Problem p, int threads, boolean checkOrder) {
        QueryGradients g = new QueryGradients(p.heads(), p.length(), p.blockRows(), p.dim());
        int slots = p.heads() * ((p.length() + p.blockRows() - 1) / p.blockRows());
        Object[] workers = new Object[threads];
        for (int shard = 0; shard < p.shards(); shard++) {
            int s = shard;
            int[][] order = checkOrder ? new int[slots][p.keyBlocks()] : null;
            int[] arrivals = new int[slots];
            TaskScheduler.runAll(workers, Tasks.of(p.heads() * p.keyBlocks(), (w, t) -> {
                task(p, g, s, t, order, arrivals);
                return 0;
            }));
            if (checkOrder) {
                for (int slot = 0; slot < slots; slot++) {
                    assertEquals(p.keyBlocks(), arrivals[slot], "every key block added at slot " + slot);
                    for (int jb = 0; jb < p.keyBlocks(); jb++) {
                        assertEquals(jb, order[slot][jb], "key block order at slot " + slot);
                    }
                }
            }
        }
        return g.dq.clone();
    }

    /** The sum one task per query block forms: its own ChunkedSum, key blocks in order, shard after shard. */
    private static float[] oneSumPerQueryBlock(Problem p) {
        float[] dq = new float[p.heads() * p.length() * p.dim()];
        for (int head = 0; head < p.heads(); head++) {
            for (int i0 = 0; i0 < p.length(); i0 += p.blockRows()) {
                int rows = Math.min(p.blockRows(), p.length() - i0);
                ChunkedSum sum = new ChunkedSum(rows * p.dim());
                sum.reset(rows * p.dim());
                for (int shard = 0; shard < p.shards(); shard++) {
                    for (int j0 = 0; j0 < p.keys(); j0 += p.blockCols()) {
                        int cols = Math.min(p.blockCols(), p.keys() - j0);
                        Kernels.scalar().accumulateProduct(p.tile(shard, head, i0, rows, j0, cols), rows, cols,
                                p.keyRows()[shard], j0 * p.dim(), p.dim(), sum.target(shard, j0, cols, p.keys()),
                                0);
                    }
                }
                sum.store(dq, (head * p.length() + i0) * p.dim(), rows * p.dim());
            }
        }
        return dq;
    }

    @Test
    void dqIsTheSameBitsForAnyNumberOfWorkersAndComesInKeyBlockOrder() {
        SplittableRandom seeds = new SplittableRandom(18);
        for (int trial = 0; trial < 12; trial++) {
            Problem p = Problem.random(seeds.nextLong());
            float[] want = oneSumPerQueryBlock(p);
            String what = "heads=" + p.heads() + " n=" + p.length() + " bq=" + p.blockRows() + " d=" + p.dim()
                    + " shards=" + p.shards() + " nk=" + p.keys() + " bk=" + p.blockCols();
            assertTimeoutPreemptively(HANG, () -> {
                for (int threads = 1; threads <= 8; threads++) {
                    assertArrayEquals(want, run(p, threads, true), what + " threads=" + threads);
                }
            }, what);
        }
    }

    @Test
    void slotsAndViewsCoverDqOnce() {
        QueryGradients g = new QueryGradients(2, 10, 4, 3); // blocks of 4, 4, 2 rows per head
        assertEquals(0, g.slot(0, 0));
        assertEquals(1, g.slot(0, 4));
        assertEquals(2, g.slot(0, 8));
        assertEquals(3, g.slot(1, 0));
        assertEquals(5, g.slot(1, 8));
        assertEquals(2L * 2 * 10 * 3, g.floats());
        for (int head = 0; head < 2; head++) {
            for (int i0 = 0; i0 < 10; i0 += 4) {
                ChunkedSum s = g.awaitTurn(g.slot(head, i0), 0);
                assertEquals((head * 10 + i0) * 3, s.base);
                int rows = Math.min(4, 10 - i0);
                float[] t = s.target(0, 5, 1, 100); // an open region: the part
                for (int e = 0; e < rows * 3; e++) {
                    t[s.base + e] = 1f;
                }
                g.pass(g.slot(head, i0), 0, true); // the last block: folds into dQ
            }
        }
        for (float x : g.dq) {
            assertEquals(1f, x);
        }
    }

    @Test
    void theTurnReturnsToZeroAfterTheLastKeyBlock() {
        QueryGradients g = new QueryGradients(1, 4, 4, 1);
        ChunkedSum s = g.awaitTurn(0, 0);
        g.pass(0, 0, false);
        assertSame(s, g.awaitTurn(0, 1));
        g.pass(0, 1, false);
        g.awaitTurn(0, 2);
        g.pass(0, 2, true);
        assertSame(s, g.awaitTurn(0, 0), "the next shard starts at key block 0");
    }

    @Test
    void abandonReleasesATaskWaitingForATurnThatWillNotCome() throws InterruptedException {
        QueryGradients g = new QueryGradients(1, 8, 4, 2);
        AtomicReference<Throwable> thrown = new AtomicReference<>();
        CountDownLatch started = new CountDownLatch(1);
        Thread waiter = new Thread(() -> {
            started.countDown();
            try {
                g.awaitTurn(1, 3); // key block 3 at slot 1: block 0 never passes
            } catch (Throwable t) {
                thrown.set(t);
            }
        }, "turn-waiter");
        waiter.setDaemon(true);
        waiter.start();
        assertTrue(started.await(HANG.toSeconds(), TimeUnit.SECONDS));
        assertTrue(waiter.isAlive(), "the waiter waits while nobody abandons");
        g.abandon();
        waiter.join(HANG.toMillis());
        assertFalse(waiter.isAlive(), "the waiter ended after abandon");
        assertInstanceOf(CancellationException.class, thrown.get());
        assertTrue(thrown.get().getMessage().contains("stopped before adding to dQ"));
        // a task whose turn it is still gets its sum: abandon stops waiting, not work in progress
        assertSame(g.awaitTurn(0, 0), g.awaitTurn(0, 0));
        assertThrows(CancellationException.class, () -> g.awaitTurn(0, 1));
    }

    @Test
    void aFailingTaskReleasesEveryWorkerWaitingForIt() {
        // task 0 fails at the third query block after the other workers have started later tasks;
        // as the backward pass does, a failing task abandons the turns before it throws
        Problem p = new Problem(1, 64, 8, 2, 1, 64, 8, new float[][] {new float[64 * 2]},
                new float[][][] {{new float[64 * 64]}});
        for (int n = 2; n <= 8; n++) {
            int threads = n;
            QueryGradients g = new QueryGradients(1, 64, 8, 2);
            CountDownLatch othersWaiting = new CountDownLatch(threads - 1);
            IllegalStateException fault = new IllegalStateException("injected fault");
            Throwable t = assertThrows(Throwable.class, () -> assertTimeoutPreemptively(HANG,
                    () -> TaskScheduler.runAll(new Object[threads], Tasks.of(p.keyBlocks(), (w, task) -> {
                        try {
                            if (task == 0) {
                                // bounded: a loaded machine may start the others late; the test holds either way
                                othersWaiting.await(10, TimeUnit.SECONDS);
                                for (int i0 = 0; i0 < 16; i0 += 8) {
                                    g.awaitTurn(g.slot(0, i0), 0);
                                    g.pass(g.slot(0, i0), 0, false);
                                }
                                throw fault;
                            }
                            if (task < threads) {
                                othersWaiting.countDown();
                            }
                            task(p, g, 0, task, null, null);
                            return 0;
                        } catch (RuntimeException | InterruptedException e) {
                            g.abandon();
                            throw e instanceof RuntimeException re ? re : new IllegalStateException(e);
                        }
                    }))));
            // every task that started has ended (runAll returned); the failure is the fault or a released waiter
            assertTrue(t == fault || t instanceof CancellationException, "threads=" + threads + ": " + t);
        }
    }
}
