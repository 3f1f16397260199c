package org.ringattention.attention;

import java.util.Objects;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tensor.Tensor;

/**
 * Exact attention computed block by block, never holding the N_q × N_k score matrix: the whole
 * sequence as one query shard and one key/value shard of {@link ShardAttention}, which holds the
 * formulas of the forward and backward passes.
 *
 * <p>K is packed once per call, block by block and transposed, for the register-tiled score
 * kernel (and V too for the backward pass). Memory: the packed copies, plus
 * O(B_q·d + B_kv·d + B_q·B_kv) per worker.
 *
 * <p><b>Threads and determinism.</b> Tasks (one per head and block) run on a fixed pool
 * ({@link TaskScheduler#runAll}); each output row is summed in a fixed order (by the task that owns it,
 * or for dQ in key order, see {@link QueryGradients}), so results are bit-identical for any number
 * of threads and for every kernel implementation.
 *
 * <p>Block sizes are free: any ≥ 1, they need not divide N and may exceed it.
 */
public final class BlockwiseAttention implements AttentionEngine {

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;
    private final int threads;

    /** Single-threaded. */
    public BlockwiseAttention(Kernels kernels, int blockQ, int blockKv) {
        this(kernels, blockQ, blockKv, 1);
    }

    /** With {@code threads} worker threads; results are bit-identical for any number of threads. */
    public BlockwiseAttention(Kernels kernels, int blockQ, int blockKv, int threads) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
        this.threads = threads;
        this.blockQ = blockQ;
        this.blockKv = blockKv;
    }

    public int blockQ() {
        return blockQ;
    }

    public int blockKv() {
        return blockKv;
    }

    public int threads() {
        return threads;
    }

    public Kernels kernels() {
        return kernels;
    }

    /**
     * O and LSE of softmax(scale · Q Kᵀ, masked) V. Inputs must be finite: the tasks check each
     * block of q, k and v as they copy or pack it (no separate pass over the inputs), and an
     * {@link IllegalArgumentException} names the first NaN or ±∞.
     */
    public AttentionOutput forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        ShardAttention sa = new ShardAttention(kernels, shape, spec, blockQ, blockKv);
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, shape.qLen()));
        ShardAttention.Workspace[] ws = workspaces(sa, shape);
        TaskScheduler<ShardAttention.Workspace> scheduler = new TaskScheduler<>(ws);
        try {
            KvShard kv = keysValues(sa, k, v, false, scheduler);
            scheduler.runAll(sa.forwardStep(qs, kv, true, true));
        } catch (NonFiniteInput e) {
            throw nameNonFinite(e, new Tensor[] {q, k, v}, "q", "k", "v");
        }
        long computed = 0;
        long skipped = 0;
        for (ShardAttention.Workspace w : ws) {
            computed += w.tilesComputed();
            skipped += w.tilesSkipped();
        }
        return new AttentionOutput(qs.out(), qs.lse(), computed, skipped);
    }

    /** Runs the forward pass, then the backward pass with {@code dOut}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec) {
        return backward(q, k, v, forward(q, k, v, spec), dOut, spec);
    }

    /** Gradients of Σ dO ∘ O with respect to q, k and v, given the forward result {@code fwd}. */
    public Gradients backward(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        ShardAttention sa = new ShardAttention(kernels, shape, spec, blockQ, blockKv);
        QueryShard qs = sa.queryShard(0, q, Positions.range(0, shape.qLen()), fwd.out(), fwd.lse());
        RowStatistics stats = sa.rowStatistics(qs, dOut);
        FiniteInputs.require(threads, new Tensor[] {dOut}, "dO");
        TaskScheduler<ShardAttention.Workspace> scheduler = new TaskScheduler<>(workspaces(sa, shape));
        KvShard kv;
        try {
            kv = keysValues(sa, k, v, true, scheduler);
        } catch (NonFiniteInput e) {
            throw nameNonFinite(e, new Tensor[] {k, v}, "k", "v");
        }
        scheduler.runAll(stats); // D = rowsum(dO ∘ O)
        // One task per key/value block; dQ is summed in turns, in key order (see QueryGradients).
        scheduler.runAll(sa.gradientStep(stats, kv));
        sa.finishQueryGradients(qs);
        sa.finishKeyValueGradients(kv);
        int b = shape.batch();
        int n = shape.kvLen();
        int d = shape.dim();
        return new Gradients(qs.dq(), Tensor.wrap(kv.dkRows(), b, shape.kvHeads(), n, d),
                Tensor.wrap(kv.dvRows(), b, shape.kvHeads(), n, d));
    }

    @Override
    public AttentionOutput attend(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        return forward(q, k, v, spec);
    }

    @Override
    public Gradients gradients(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        return backward(q, k, v, fwd, dOut, spec);
    }

    @Override
    public String describe() {
        return "blockwise float32, blocks " + blockQ + "x" + blockKv + ", " + kernels.name() + " kernels, " + threads
                + " threads";
    }

    /** K and V of the whole sequence as one key/value shard, packed head by head on the workers {@code ws}. */
    private static KvShard keysValues(ShardAttention sa, Tensor k, Tensor v, boolean backward,
            TaskScheduler<ShardAttention.Workspace> scheduler) {
        KvShard kv = sa.kvBuffer(k.rows(), backward);
        scheduler.runAll(sa.keyValueLoad(kv, 0, k, v, Positions.range(0, k.rows())));
        return kv;
    }

    /**
     * The error for a {@link NonFiniteInput} found by some task: the scan of {@link FiniteInputs}
     * names the first non-finite element of {@code inputs}, in order, whichever task came first.
     */
    private RuntimeException nameNonFinite(NonFiniteInput found, Tensor[] inputs, String... names) {
        FiniteInputs.require(threads, inputs, names); // throws IllegalArgumentException
        return new IllegalStateException("a task found a non-finite input that the scan did not", found);
    }

    private ShardAttention.Workspace[] workspaces(ShardAttention sa, AttentionShape shape) {
        ShardAttention.Workspace[] ws = new ShardAttention.Workspace[threads];
        for (int t = 0; t < threads; t++) {
            ws[t] = sa.workspace(shape.qLen(), shape.kvLen());
        }
        return ws;
    }
}
