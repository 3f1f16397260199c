package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * {@link ForwardStep} on its own: the tasks its class comment plans (groups of up to four units
 * of one key/value head, the last eighth of the units alone, the last four split), the pairs and
 * tiles a step reports, and the two places where a tile's row maxima may come from the score
 * kernel: never from keys the mask hides, nor from products a soft cap changes.
 */
class ForwardStepTest {

    private static final AttentionSpec FULL = AttentionSpec.DEFAULT;

    @Test
    void unitsPerTaskKeepTheirQueriesAndStatesWithinHalfAMegabyte() {
        // 3 floats per row and dimension per unit: 512 KiB / (12 bytes · rows · d)
        assertEquals(4, ForwardStep.group(8, 4), "at most four units");
        assertEquals(4, ForwardStep.group(64, 64), "10 would fit");
        assertEquals(2, ForwardStep.group(128, 128), "2.7 fit");
        assertEquals(1, ForwardStep.group(128, 512), "none fits: one unit all the same");
    }

    @Test
    void tasksFollowTheUnitPlan() {
        // B·Hq·(N / 8) units of one query block each; GQA groups of two query heads
        // 32 units: runs (b, g) of 16 units; run 0 in 4 tasks of 4, run 1's first 12 in 3 tasks, its
        // last 4 (an eighth, at least 4) alone and split: 4 + 4 tasks; 15 in all
        assertEquals(15, step(1, 4, 2, 64, 8, FULL).count());
        // 64 units: runs of 16; runs 0-2 in 12 tasks, run 3's first 8 in 2; the last 8 alone, the
        // last 4 of them split: 8 + 4 tasks; 26 in all
        assertEquals(26, step(2, 4, 2, 64, 8, FULL).count());
        // 3 units (one head, N = 24): all alone, all split: 3 + 3 tasks
        assertEquals(6, step(1, 1, 1, 24, 8, FULL).count());
        // 160 units (Hq = Hkv = 10, N = 128): runs of 16 units; the last 20 alone, 4 of them split;
        // the 140 grouped: runs 0-7 (128 units) in 32 tasks, 12 of run 8 in 3: 35 + 20 + 4 = 59
        assertEquals(59, step(1, 10, 10, 128, 8, FULL).count());
    }

    @Test
    void aStepReturnsThePairsItComputedAndCountsEveryTile() throws Exception {
        for (int[] c : new int[][] {{1, 4, 2, 64}, {2, 4, 2, 64}, {1, 1, 1, 24}}) {
            int b = c[0];
            int hq = c[1];
            int n = c[3];
            Stepped full = run(c[0], c[1], c[2], n, 8, FULL);
            assertEquals((long) b * hq * n * n, full.pairs, "every pair of every head");
            assertEquals((long) b * hq * (n / 8) * (n / 8), full.tilesComputed);
            assertEquals(0, full.tilesSkipped);
            // causal, blocks 8 × 8: of the (n/8)² tiles per head the (n/8)(n/8 − 1)/2 above the diagonal are hidden
            Stepped causal = run(c[0], c[1], c[2], n, 8, FULL.withCausal(true));
            long blocks = n / 8;
            assertEquals(b * hq * blocks * (blocks + 1) / 2, causal.tilesComputed);
            assertEquals(b * hq * blocks * (blocks - 1) / 2, causal.tilesSkipped);
        }
    }

    @Test
    void aKeyHiddenFromARowNeverReachesIt() {
        // causal, N = 8, blocks 4 × 4: tile (rows 0..3, keys 0..3) is partial; rows 0..2 do not see
        // key 3. However large its scores, their rows keep their bits (a tile maximum taken before
        // the mask would make theirs e^(s − 1000))
        SplittableRandom rnd = new SplittableRandom(5);
        Tensor q = random(rnd, 8, 4);
        Tensor k = random(rnd, 8, 4);
        Tensor v = random(rnd, 8, 4);
        Tensor loud = Tensor.wrap(k.toArray(), 1, 1, 8, 4);
        for (int x = 0; x < 4; x++) {
            loud.set(0, 0, 3, x, 1000 * Math.signum(q.get(0, 0, 0, x)));
        }
        BlockwiseAttention a = new BlockwiseAttention(Kernels.scalar(), 4, 4, 1);
        AttentionSpec causal = FULL.withCausal(true);
        AttentionOutput quiet = a.forward(q, k, v, causal);
        AttentionOutput heard = a.forward(q, loud, v, causal);
        for (int i = 0; i < 3; i++) {
            for (int x = 0; x < 4; x++) {
                assertEquals(quiet.out().get(0, 0, i, x), heard.out().get(0, 0, i, x), "row " + i);
            }
            assertEquals(quiet.lse(0, 0, i), heard.lse(0, 0, i), "row " + i);
        }
    }

    @Test
    void aSoftCapBoundsTheScoresWhateverTheProducts() {
        // one query, keys with products 1000 and 1 (d = 1, scale 1), cap 5: scores 5·tanh(200) = 5
        // and 5·tanh(0.2); V = (1, −1), so O = tanh((s1 − s2) / 2), LSE = log(e^s1 + e^s2). The
        // products' maximum (1000) is no maximum of the scores
        Tensor q = Tensor.wrap(new float[] {1}, 1, 1, 1, 1);
        Tensor k = Tensor.wrap(new float[] {1000, 1}, 1, 1, 2, 1);
        Tensor v = Tensor.wrap(new float[] {1, -1}, 1, 1, 2, 1);
        double s1 = 5 * Math.tanh(200);
        double s2 = 5 * Math.tanh(0.2);
        for (Kernels kernels : new Kernels[] {Kernels.scalar(), Kernels.vector()}) {
            AttentionOutput o = new BlockwiseAttention(kernels, 4, 4, 1).forward(q, k, v,
                    FULL.withScale(1).withSoftcap(5));
            assertEquals(Math.tanh((s1 - s2) / 2), o.out().get(0, 0, 0, 0), 1e-5, kernels.name());
            assertEquals(Math.log(Math.exp(s1) + Math.exp(s2)), o.lse(0, 0, 0), 1e-5, kernels.name());
        }
    }

    @Test
    void theTaskPlanChangesNoBit() {
        // B = 2, GQA: the same rows whether grouped four units to a task (blocks of 8 rows) or one
        // unit per head, split (blocks of 64)
        SplittableRandom rnd = new SplittableRandom(9);
        Tensor q = random(rnd, 2, 4, 64, 8);
        Tensor k = random(rnd, 2, 2, 64, 8);
        Tensor v = random(rnd, 2, 2, 64, 8);
        AttentionSpec causal = FULL.withCausal(true);
        AttentionOutput grouped = new BlockwiseAttention(Kernels.scalar(), 8, 8, 2).forward(q, k, v, causal);
        AttentionOutput alone = new BlockwiseAttention(Kernels.scalar(), 64, 8, 2).forward(q, k, v, causal);
        assertArrayEquals(alone.lse(), grouped.lse());
        assertArrayEquals(alone.out().toArray(), grouped.out().toArray());
    }

    private record Stepped(long pairs, long tilesComputed, long tilesSkipped) {
    }

    private static Tasks<ShardAttention.Workspace> step(int b, int hq, int hkv, int n, int block, AttentionSpec spec) {
        return prepare(b, hq, hkv, n, block, spec).step;
    }

    private static Stepped run(int b, int hq, int hkv, int n, int block, AttentionSpec spec) {
        Prepared p = prepare(b, hq, hkv, n, block, spec);
        ShardAttention.Workspace w = p.sa.workspace(n, n);
        long pairs = TaskScheduler.runHere(p.step, w);
        return new Stepped(pairs, w.tilesComputed(), w.tilesSkipped());
    }

    private record Prepared(ShardAttention sa, Tasks<ShardAttention.Workspace> step) {
    }

    private static Prepared prepare(int b, int hq, int hkv, int n, int block, AttentionSpec spec) {
        int d = 4;
        SplittableRandom rnd = new SplittableRandom(n);
        ShardAttention sa = new ShardAttention(Kernels.scalar(), new AttentionShape(b, hq, hkv, n, n, d), spec, block,
                block);
        Tensor q = random(rnd, b, hq, n, d);
        KvShard kv = sa.kvBuffer(n, false);
        sa.load(kv, 0, random(rnd, b, hkv, n, d), random(rnd, b, hkv, n, d), Positions.range(0, n));
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, n));
        return new Prepared(sa, sa.forwardStep(qs, kv, true, true));
    }

    private static Tensor random(SplittableRandom rnd, int n, int d) {
        return random(rnd, 1, 1, n, d);
    }

    private static Tensor random(SplittableRandom rnd, int b, int h, int n, int d) {
        float[] x = new float[b * h * n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, b, h, n, d);
    }
}
