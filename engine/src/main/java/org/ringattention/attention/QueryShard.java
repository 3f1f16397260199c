package org.ringattention.attention;

import org.ringattention.tensor.Tensor;

/**
 * What stays with one query shard while key/value shards pass by: its queries, the running
 * online-softmax state of every row between shards, and its results.
 *
 * <p>Layout, for the shard's n rows: q, O, dO and dQ [B, Hq, n, d] row-major; the running max m,
 * sum l and LSE [B, Hq, n]; the running unnormalized output õ [B, Hq, n, d]. State arrays are
 * allocated when first needed: a shard that sees all its keys in one sweep (blockwise attention)
 * never stores its state.
 */
public final class QueryShard {

    final int id;
    final Positions positions;
    final Tensor q;
    final int length;
    final int blockRows;
    final Tensor out;
    final float[] lse;
    float[] max;
    float[] sum;
    float[] acc;
    Tensor dOut;
    float[] delta;
    QueryGradients grads;

    QueryShard(int id, Tensor q, Positions positions, int blockQ) {
        this(id, q, positions, blockQ, Tensor.zeros(q.batch(), q.heads(), q.rows(), q.dim()),
                new float[q.batch() * q.heads() * q.rows()]);
    }

    /** With the forward result O and LSE given (for a backward pass). */
    QueryShard(int id, Tensor q, Positions positions, int blockQ, Tensor out, float[] lse) {
        if (positions.length() != q.rows()) {
            throw new IllegalArgumentException("query shard " + id + " has " + q.rows() + " rows but "
                    + positions.length() + " positions");
        }
        this.id = id;
        this.q = q;
        this.positions = positions;
        this.length = q.rows();
        this.blockRows = Math.max(1, Math.min(blockQ, length));
        if (out.rows() != length || out.size() != q.size() || lse.length != q.batch() * q.heads() * length) {
            throw new IllegalArgumentException("O " + out.shape() + " or LSE (" + lse.length
                    + " values) does not fit q " + q.shape());
        }
        this.out = out;
        this.lse = lse;
    }

    /** The shard's O [B, Hq, n, d], complete after the last key/value shard. */
    public Tensor out() {
        return out;
    }

    /** The shard's LSE [B, Hq, n], complete after the last key/value shard. */
    public float[] lse() {
        return lse;
    }

    /** The shard's dQ [B, Hq, n, d], complete after {@link ShardAttention#finishQueryGradients}. */
    public Tensor dq() {
        return Tensor.wrap(grads.dq, q.batch(), q.heads(), length, q.dim());
    }

    /** Bytes of this shard's arrays (queries, state, results). */
    public long bytes() {
        long floats = q.size() + out.size() + lse.length + len(max) + len(sum) + len(acc) + len(delta)
                + (grads == null ? 0 : grads.floats()) + (dOut == null ? 0 : dOut.size());
        return floats * Float.BYTES;
    }

    private static long len(float[] a) {
        return a == null ? 0 : a.length;
    }

    /** Allocates the state arrays once; tasks of one shard may call it from several threads. */
    synchronized void ensureState() {
        if (max == null) {
            int rows = lse.length;
            max = new float[rows];
            sum = new float[rows];
            acc = new float[rows * q.dim()];
        }
    }
}
