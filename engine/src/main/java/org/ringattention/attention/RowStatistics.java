package org.ringattention.attention;

import java.util.concurrent.atomic.AtomicInteger;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * What the backward pass of a query shard starts from: its forward result O and LSE, the upstream
 * gradient dO of its rows, and the row statistics D = rowsum(dO ∘ O), computed here as tasks, one
 * per query head (b·Hq + h), each summing its rows' products in increasing order. Creating it
 * checks dO and gives the shard a zero dQ. The gradient steps of the shard
 * ({@link ShardAttention#gradientStep}) take this object, and refuse it until every task has run:
 * gradients cannot start from missing statistics.
 *
 * <p>Layout: D [B, Hq, n] in the shard's {@code delta}, dQ [B, Hq, n, d] in its
 * {@link QueryGradients}, both kept by the {@link QueryShard} (whose bytes they count).
 */
public final class RowStatistics implements Tasks<ShardAttention.Workspace> {

    final QueryShard qs;
    private final int heads;
    private final AtomicInteger headsDone = new AtomicInteger();

    RowStatistics(QueryShard qs, Tensor dOut, int heads, int dim) {
        if (dOut.batch() != qs.q.batch() || dOut.heads() != qs.q.heads() || dOut.rows() != qs.length
                || dOut.dim() != qs.q.dim()) {
            throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", expected the shape of q "
                    + qs.q.shape());
        }
        this.qs = qs;
        this.heads = heads;
        qs.dOut = dOut;
        qs.delta = new float[heads * qs.length];
        qs.grads = new QueryGradients(heads, qs.length, qs.blockRows, dim);
    }

    /** The query shard these are the statistics of. */
    public QueryShard queries() {
        return qs;
    }

    /** One task per query head, B·Hq. */
    @Override
    public int count() {
        return heads;
    }

    /** D of the rows of query head {@code head} (b·Hq + h), each sum in increasing order. */
    @Override
    public long run(ShardAttention.Workspace unused, int head) {
        Tensor out = qs.out;
        int d = out.dim();
        int n = out.rows();
        int b = head / out.heads();
        int h = head % out.heads();
        float[] a = new float[n * d];
        float[] o = new float[n * d];
        qs.dOut.rows(b, h, 0, n).copyTo(a, 0);
        out.rows(b, h, 0, n).copyTo(o, 0);
        int base = head * n;
        for (int i = 0; i < n; i++) {
            float acc = 0f;
            for (int x = i * d, end = x + d; x < end; x++) {
                acc = Math.fma(a[x], o[x], acc);
            }
            qs.delta[base + i] = acc;
        }
        headsDone.incrementAndGet();
        return 0;
    }

    /** Throws unless every task has run. */
    void requireComplete() {
        if (headsDone.get() != heads) {
            throw new IllegalStateException("the row statistics of query shard " + qs.id + " are not computed ("
                    + headsDone.get() + " of " + heads + " heads)");
        }
    }

    /** Makes gradient tasks of the shard that wait for another task's turn throw: for a ring that stops. */
    public void abandon() {
        qs.grads.abandon();
    }
}
