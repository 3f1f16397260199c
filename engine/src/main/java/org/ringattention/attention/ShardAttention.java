package org.ringattention.attention;

import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * Attention of one query shard over one key/value shard, block by block: the unit of work of a
 * ring step, and, with the whole sequence as one shard of each, all of blockwise attention.
 *
 * <p><b>Forward.</b> For each head and each query block Q_i (B_q rows) the key/value blocks K_j, V_j
 * (B_kv rows) of the shard stream through an {@link OnlineSoftmax}: scores S_ij = scale · Q_i K_jᵀ,
 * turned into scores and masked by the {@link Mask} (soft cap and ALiBi, when asked, on a per-tile
 * path of their own after the score kernel), update the running max, sum and unnormalized output. Tiles the mask
 * hides entirely are skipped. Between shards the running state is kept in the {@link QueryShard};
 * after the last shard O = õ / l and LSE = m + log l (with a sink in the denominator when asked,
 * see {@link OnlineSoftmax}).
 *
 * <p><b>Backward</b> (given dO and the forward's O and LSE), with P recomputed block by block:
 * <pre>
 *   D_i   = rowsum(dO_i ∘ O_i)
 *   P_ij  = exp(scale · Q_i K_jᵀ − LSE_i)          (0 where masked)
 *   dV_j += P_ijᵀ dO_i
 *   dP_ij = dO_i V_jᵀ
 *   dS_ij = P_ij ∘ (dP_ij − D_i)                   (∘ (1 − tanh²) under a soft cap)
 *   dQ_i += scale · dS_ij K_j
 *   dK_j += scale · dS_ijᵀ Q_i
 * </pre>
 * The factor {@code scale} of dQ and dK is applied once, after the last shard.
 *
 * <p><b>Stages.</b> This class holds the problem (shape, mask, scale, block sizes, kernels) and
 * makes the stages, each an object that holds what its step needs and exposes its work as
 * {@link Tasks} for the {@link org.ringattention.tasks.TaskScheduler}:
 * <pre>
 *   stage                                        its tasks                           class
 *   keyValueLoad(kvBuffer(..), owner, k, v, ..)  one per key/value head              KeyValueLoad
 *   for each key/value shard, in order:
 *     forwardStep(queryShard(..), kv, first, last)  one per head and query block     ForwardStep
 *   rowStatistics(qs, dO)                        one per query head: D               RowStatistics
 *   for each key/value shard, in order:
 *     gradientStep(statistics, kv)               one per key/value head and block    GradientStep
 *   finishQueryGradients(qs), finishKeyValueGradients(kv)
 * </pre>
 * O and LSE are complete after the last forward step; a gradient step takes the row statistics,
 * not the query shard, and refuses them until they are computed. Blockwise attention runs each
 * stage once on the whole sequence; the ring runs a forward or gradient step per device and ring
 * step, and a device's steps follow one another (the scheduler's batch of one has completed
 * before the next is made).
 *
 * <p><b>Determinism.</b> Each output row is summed in a fixed order, by the task that owns it or,
 * for dQ, in key order, with kernels whose results do not depend on the vector width
 * ({@link Kernels}); so results do not depend on which thread runs a task. Sums are
 * {@link ChunkedSum}s whose regions are named by shard, so a sum's rounding does not depend on the
 * block sizes either.
 */
public final class ShardAttention {

    final Kernels kernels;
    final AttentionShape shape;
    final Mask mask;
    final float scale;
    final int blockQ;
    final int blockKv;
    /** Asked between tiles of a forward task and blocks of a load; null: never stops (see {@link #stopWhen}). */
    private BooleanSupplier stop;

    /** For a problem of {@code shape} (the whole sequence) under {@code spec}. */
    public ShardAttention(Kernels kernels, AttentionShape shape, AttentionSpec spec, int blockQ, int blockKv) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
        this.shape = shape;
        this.mask = Mask.of(spec, shape);
        this.scale = (float) spec.scaleFor(shape.dim());
        this.blockQ = blockQ;
        this.blockKv = blockKv;
    }

    /**
     * Makes forward tasks and loads throw {@link StreamingAttention.Stopped} between two tiles (two
     * blocks of a load) once {@code stop} answers true: a stop is then seen within a tile's work
     * (microseconds) rather than a task's. What a stopped task leaves in its query shard is
     * incomplete, so the caller discards the shard; set before the tasks start.
     */
    void stopWhen(BooleanSupplier stop) {
        this.stop = stop;
    }

    /** Throws {@link StreamingAttention.Stopped} once the stop set by {@link #stopWhen} answers true. */
    void checkStop() {
        if (stop != null && stop.getAsBoolean()) {
            throw new StreamingAttention.Stopped();
        }
    }

    /** A query shard of the queries {@code q} [B, Hq, n, d] at {@code positions}. */
    public QueryShard queryShard(int id, Tensor q, Positions positions) {
        requireFits(q);
        return new QueryShard(id, q, positions, blockQ);
    }

    /**
     * A query shard whose forward result is given, O {@code out} [B, Hq, n, d] and LSE {@code lse}
     * [B, Hq, n] of its rows: ready for {@link #rowStatistics} without a forward pass.
     */
    public QueryShard queryShard(int id, Tensor q, Positions positions, Tensor out, float[] lse) {
        requireFits(q);
        return new QueryShard(id, q, positions, blockQ, out, lse);
    }

    private void requireFits(Tensor q) {
        if (q.batch() != shape.batch() || q.heads() != shape.qHeads() || q.dim() != shape.dim()) {
            throw new IllegalArgumentException("query shard " + q.shape() + " does not fit " + shape);
        }
    }

    /** An empty key/value buffer with room for {@code capacity} rows per head. */
    public KvShard kvBuffer(int capacity, boolean backward) {
        return new KvShard(shape.batch(), shape.kvHeads(), Math.max(1, capacity), shape.dim(), backward);
    }

    /**
     * The load of the keys and values at {@code positions} of {@code k} and {@code v} [B, Hkv, N, d],
     * owned by {@code owner}, into {@code buffer}: describes the shard and zeroes its dK and dV now;
     * the buffer holds the shard once the returned tasks have run (see {@link KeyValueLoad}).
     */
    public Tasks<Workspace> keyValueLoad(KvShard buffer, int owner, Tensor k, Tensor v, Positions positions) {
        return new KeyValueLoad(this, buffer, owner, k, v, positions);
    }

    /** {@link #keyValueLoad} with its tasks run on this thread: {@code buffer} holds the shard on return. */
    public void load(KvShard buffer, int owner, Tensor k, Tensor v, Positions positions) {
        TaskScheduler.runHere(keyValueLoad(buffer, owner, k, v, positions), null);
    }

    /** A worker's buffers for shards of at most {@code maxQueryRows} and {@code maxKvRows} rows. */
    public Workspace workspace(int maxQueryRows, int maxKvRows) {
        return new Workspace(Math.max(1, Math.min(blockQ, maxQueryRows)), Math.max(1, Math.min(blockKv, maxKvRows)),
                shape.dim(), mask.softcaps());
    }

    /**
     * The step of {@code qs} over the loaded key/value shard {@code kv}: its tasks absorb the shard
     * into the rows' running state; {@code first} starts the state, {@code last} finishes O and LSE
     * (see {@link ForwardStep}). Each task returns the query-key pairs it computed.
     */
    public Tasks<Workspace> forwardStep(QueryShard qs, KvShard kv, boolean first, boolean last) {
        return new ForwardStep(this, qs, kv, first, last);
    }

    /**
     * The start of the backward pass of {@code qs}, whose O and LSE are complete, with the upstream
     * gradient {@code dOut} of its rows [B, Hq, n, d]: checks dO and zeroes dQ now; its tasks
     * compute D = rowsum(dO ∘ O) (see {@link RowStatistics}).
     */
    public RowStatistics rowStatistics(QueryShard qs, Tensor dOut) {
        return new RowStatistics(qs, dOut, shape.batch() * shape.qHeads(), shape.dim());
    }

    /**
     * The backward step of the shard of {@code statistics}, which must be computed, over the loaded
     * backward buffer {@code kv}: its tasks add to kv's dK, dV and to the shard's dQ (see
     * {@link GradientStep}). Each task returns the query-key pairs it computed.
     */
    public Tasks<Workspace> gradientStep(RowStatistics statistics, KvShard kv) {
        return new GradientStep(this, statistics, kv);
    }

    /** {@link #gradientStep} for query head {@code groupHead} of each group only (see {@link GradientStep}). */
    Tasks<Workspace> gradientStep(RowStatistics statistics, KvShard kv, int groupHead) {
        return new GradientStep(this, statistics, kv, groupHead);
    }

    /** Multiplies the shard's dQ by scale, once its sums over all keys are complete. */
    public void finishQueryGradients(QueryShard qs) {
        scale(qs.grads.dq, qs.grads.dq.length, scale);
    }

    /** Multiplies the shard's dK by scale, once its sums over all queries are complete. */
    public void finishKeyValueGradients(KvShard kv) {
        scale(kv.dk, kv.used(), scale);
    }

    /** Throws {@link NonFiniteInput} when {@code x[off .. off + len)}, a block of input {@code what}, is not all finite. */
    void requireFinite(float[] x, int off, int len, String what) {
        if (!kernels.allFinite(x, off, len)) {
            throw new NonFiniteInput(what);
        }
    }

    private static void scale(float[] x, int len, float s) {
        for (int i = 0; i < len; i++) {
            x[i] *= s;
        }
    }

    static int blocks(int n, int block) {
        return (n + block - 1) / block;
    }

    /** One worker's buffers, allocated once: nothing is allocated per tile. */
    public static final class Workspace {
        final float[] q;
        final float[][] groupQ; // the queries of each member of a forward task's group (groupQ[0] is q)
        final float[] dOut;
        final float[] o;
        final float[] s;
        final float[] ds;
        final float[] rowMax;
        final float[] dCap; // ∂s/∂(scale·q·k) of a tile, only with a soft cap
        final OnlineSoftmax softmax;
        final OnlineSoftmax[] groupSoftmax; // the state of each member of a forward task's group ([0] is softmax)
        final ForwardStep.QueryBlock[] groupBlocks;
        final ChunkedSum dkSum;
        final ChunkedSum dvSum;
        private PendingQueryTerms pendingQueryTerms; // a backward task's, made at its first use
        long tilesComputed;
        long tilesSkipped;

        Workspace(int bq, int bkv, int d, boolean softcap) {
            int group = ForwardStep.group(bq, d);
            groupQ = new float[group][];
            groupSoftmax = new OnlineSoftmax[group];
            groupBlocks = new ForwardStep.QueryBlock[group];
            for (int i = 0; i < group; i++) {
                groupQ[i] = new float[bq * d];
                groupSoftmax[i] = new OnlineSoftmax(bq, d);
            }
            q = groupQ[0];
            dOut = new float[bq * d];
            o = new float[bq * d];
            s = new float[bq * bkv];
            ds = new float[bq * bkv];
            rowMax = new float[bq];
            dCap = softcap ? new float[bq * bkv] : null;
            softmax = groupSoftmax[0];
            dkSum = new ChunkedSum(bkv * d);
            dvSum = new ChunkedSum(bkv * d);
        }

        /**
         * The buffers of a backward task's dQ terms that wait for their turn, sized by this
         * workspace's query block (every shard's query blocks fit it; shards differ in length).
         */
        PendingQueryTerms pendingQueryTerms(int d) {
            if (pendingQueryTerms == null) {
                pendingQueryTerms = new PendingQueryTerms(o.length / d, d);
            }
            return pendingQueryTerms;
        }

        /** Tiles computed and skipped by this workspace so far. */
        public long tilesComputed() {
            return tilesComputed;
        }

        public long tilesSkipped() {
            return tilesSkipped;
        }

        /** Bytes of this workspace's arrays. */
        public long bytes() {
            long floats = (long) groupQ.length * q.length + dOut.length + o.length + s.length + ds.length
                    + rowMax.length + (dCap == null ? 0 : dCap.length) + 2L * (dkSum.total.length + dvSum.total.length)
                    + (long) groupSoftmax.length * softmax.floats()
                    + (pendingQueryTerms == null ? 0 : pendingQueryTerms.floats());
            return floats * Float.BYTES;
        }
    }
}
