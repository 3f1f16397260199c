package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tensor.Tensor;

/**
 * A {@link KeyValueLoad} into a buffer used before (as a ring reuses its buffers): the backward
 * pass's dK and dV start from zero again; and a stop request is seen between two blocks of the
 * load, not only at the next tile.
 */
class KeyValueLoadTest {

    private static final AttentionShape SHAPE = new AttentionShape(1, 2, 1, 8, 8, 4);

    @Test
    void aBufferLoadedAgainStartsItsGradientsFromZero() {
        SplittableRandom rnd = new SplittableRandom(3);
        Tensor q = random(rnd, 2);
        Tensor k = random(rnd, 1);
        Tensor v = random(rnd, 1);
        Tensor dOut = random(rnd, 2);
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        AttentionOutput fwd = new BlockwiseAttention(Kernels.scalar(), 4, 4, 1).forward(q, k, v, causal);
        ShardAttention sa = new ShardAttention(Kernels.scalar(), SHAPE, causal, 4, 4);
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, 8), fwd.out(), fwd.lse());
        KvShard buffer = sa.kvBuffer(8, true);
        float[][] first = gradients(sa, qs, buffer, k, v, dOut);
        float[][] again = gradients(sa, qs, buffer, k, v, dOut);
        assertArrayEquals(first[0], again[0], "dK");
        assertArrayEquals(first[1], again[1], "dV");
    }

    @Test
    void aStopIsSeenWithinALoad() {
        ShardAttention sa = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT, 4, 4);
        sa.stopWhen(() -> true);
        Tensor k = Tensor.zeros(1, 1, 8, 4);
        assertThrows(StreamingAttention.Stopped.class,
                () -> sa.load(sa.kvBuffer(8, false), 0, k, k, Positions.range(0, 8)));
    }

    /** Loads k, v into {@code buffer} and runs one gradient step of the whole sequence: {dK, dV}. */
    private static float[][] gradients(ShardAttention sa, QueryShard qs, KvShard buffer, Tensor k, Tensor v,
            Tensor dOut) {
        sa.load(buffer, 0, k, v, Positions.range(0, 8));
        RowStatistics stats = sa.rowStatistics(qs, dOut);
        TaskScheduler.runHere(stats, null);
        TaskScheduler.runHere(sa.gradientStep(stats, buffer), sa.workspace(8, 8));
        sa.finishKeyValueGradients(buffer);
        return new float[][] {buffer.dkRows(), buffer.dvRows()};
    }

    private static Tensor random(SplittableRandom rnd, int heads) {
        float[] x = new float[heads * 8 * 4];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, 1, heads, 8, 4);
    }
}
