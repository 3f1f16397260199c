package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * One backward step of a query shard: the gradients its queries give one key/value shard and
 * receive from it (the formulas are in {@link ShardAttention}), as tasks.
 *
 * <p><b>Tasks.</b> One per key/value head and key block j, heads in order, blocks in increasing
 * order. A task computes each tile's P_ij and dS_ij once (5 tile products), owns dK_j and dV_j
 * and sums them over the shard's query blocks in increasing order (and, with GQA, over the query
 * heads of the group, in increasing head order) into the shard's running dK, dV; it adds
 * dS_ij K_j to each dQ_i in its turn, after the tasks of the key blocks before it
 * ({@link QueryGradients}: this is why tasks must start in increasing order). When the turn has
 * not come yet, the product goes to a buffer and is added later ({@link PendingQueryTerms}), so a
 * task waits only when a few are pending. All before the factor scale, applied once after the
 * last shard.
 *
 * <p>A step may be restricted to one query head of each group ({@code groupHead}): the streaming
 * backward pass runs the heads of a group one after the other over all query chunks, so that dK and
 * dV are summed head by head, each over all queries, as one step over the whole sequence sums them.
 */
final class GradientStep implements Tasks<ShardAttention.Workspace> {

    private final ShardAttention sa;
    private final Kernels kernels;
    private final QueryShard qs;
    private final KvShard kv;
    private final Mask mask; // of this pair of shards
    private final int kvBlocks;
    private final int groupHead; // the one query head of each group this step runs, or -1: all

    GradientStep(ShardAttention sa, RowStatistics stats, KvShard kv) {
        this(sa, stats, kv, -1);
    }

    GradientStep(ShardAttention sa, RowStatistics stats, KvShard kv, int groupHead) {
        stats.requireComplete();
        if (!kv.backward) {
            throw new IllegalArgumentException("the key/value shard of a gradient step needs a backward buffer");
        }
        this.sa = sa;
        this.kernels = sa.kernels;
        this.qs = stats.qs;
        this.kv = kv;
        this.mask = sa.mask.forShards(qs.positions, kv.positions);
        this.kvBlocks = ShardAttention.blocks(kv.length, kv.blockCols);
        if (groupHead < -1 || groupHead >= sa.shape.group()) {
            throw new IllegalArgumentException("query head " + groupHead + " of a group of " + sa.shape.group());
        }
        this.groupHead = groupHead;
    }

    /** One task per key/value head and block. */
    @Override
    public int count() {
        return sa.shape.batch() * sa.shape.kvHeads() * kvBlocks;
    }

    /**
     * Adds the contributions of the shard's queries to dK_j and dV_j of task {@code task}'s key
     * block, and that block's contributions to the dQ_i of every query block in its turn. Returns
     * the number of query-key pairs computed. A task that fails abandons the turns, so that tasks
     * waiting for its turn stop too.
     */
    @Override
    public long run(ShardAttention.Workspace w, int task) {
        try {
            return keyValueGradients(w, task);
        } catch (Throwable t) {
            qs.grads.abandon();
            throw t;
        }
    }

    private long keyValueGradients(ShardAttention.Workspace w, int task) {
        AttentionShape shape = sa.shape;
        int head = task / kvBlocks;
        int b = head / shape.kvHeads();
        int g = head % shape.kvHeads();
        int jb = task % kvBlocks;
        int j0 = jb * kv.blockCols;
        int d = shape.dim();
        int cols = Math.min(kv.blockCols, kv.length - j0);
        int off = kv.offset(b, g, j0);
        Mask m = mask;
        w.dkSum.load(kv.dk, off, cols * d);
        w.dvSum.load(kv.dv, off, cols * d);
        // Q_i and dO_i are read in place from heap tensors; other storage is copied block by block.
        float[] qHeap = qs.q.heapArray();
        float[] dHeap = qs.dOut.heapArray();
        float[] keyRows = kv.keyRows(b, g);
        boolean last = jb == kvBlocks - 1;
        long pairs = 0;
        int hFrom = g * shape.group() + Math.max(0, groupHead);
        int hTo = groupHead < 0 ? (g + 1) * shape.group() : hFrom + 1;
        PendingQueryTerms pending = w.pendingQueryTerms(d);
        pending.clear();
        for (int h = hFrom; h < hTo; h++) {
            for (int i0 = 0; i0 < qs.length; i0 += qs.blockRows) {
                int rows = Math.min(qs.blockRows, qs.length - i0);
                long tile = keyValueTile(w, m, b, h, i0, rows, j0, cols, qHeap, dHeap);
                int slot = qs.grads.slot(b * shape.qHeads() + h, i0);
                addReady(pending, jb, j0, cols, last, false);
                if (pending.isEmpty() && qs.grads.isTurn(slot, jb)) {
                    if (tile > 0) { // not hidden by the mask
                        ChunkedSum dq = qs.grads.sum(slot);
                        kernels.accumulateProduct(w.ds, rows, cols, keyRows, off, d,
                                dq.target(kv.owner, j0, cols, kv.length), dq.base);
                    }
                    qs.grads.pass(slot, jb, last);
                } else {
                    if (pending.isFull()) {
                        addOldest(pending, jb, j0, cols, last);
                    }
                    int at = pending.add(slot, tile > 0 ? rows * d : 0);
                    if (tile > 0) {
                        kernels.accumulateProduct(w.ds, rows, cols, keyRows, off, d, pending.buffers(), at);
                    }
                }
                pairs += tile;
            }
        }
        addReady(pending, jb, j0, cols, last, true);
        w.dkSum.store(kv.dk, off, cols * d);
        w.dvSum.store(kv.dv, off, cols * d);
        return pairs;
    }

    /**
     * Adds the pending dQ terms whose turn has come, oldest first; with {@code all}, waits for the
     * turns of every one.
     */
    private void addReady(PendingQueryTerms pending, int jb, int j0, int cols, boolean last, boolean all) {
        while (!pending.isEmpty() && (all || qs.grads.isTurn(pending.oldestSlot(), jb))) {
            addOldest(pending, jb, j0, cols, last);
        }
    }

    /** Waits for the turn of the oldest pending dQ term, adds it and passes the turn on. */
    private void addOldest(PendingQueryTerms pending, int jb, int j0, int cols, boolean last) {
        int slot = pending.oldestSlot();
        ChunkedSum dq = qs.grads.awaitTurn(slot, jb);
        if (pending.oldestIsEmpty()) {
            pending.dropOldest();
        } else {
            pending.addOldestTo(dq.target(kv.owner, j0, cols, kv.length), dq.base);
        }
        qs.grads.pass(slot, jb, last);
    }

    /**
     * One tile of a backward task: query block [i0, i0 + rows) of head h against the key/value
     * block at j0 (cols keys); leaves P_ij and dS_ij in the workspace and adds to dV_j and dK_j. A
     * method of its own for the JIT, as {@link ForwardStep}'s tiles.
     */
    private long keyValueTile(ShardAttention.Workspace w, Mask m, int b, int h, int i0, int rows, int j0, int cols,
            float[] qHeap, float[] dHeap) {
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        float[] qa = qHeap != null ? qHeap : w.q;
        int qOff = rowsAt(qs.q, qHeap, b, h, i0, rows, w.q);
        float[] da = dHeap != null ? dHeap : w.dOut;
        int dOff = rowsAt(qs.dOut, dHeap, b, h, i0, rows, w.dOut);
        probabilitiesAndScoreGradients(w, m, vis, b, h, i0, rows, j0, cols, qa, qOff, da, dOff);
        int sequence = qs.id * sa.shape.qHeads() + h;
        float[] dvTarget = w.dvSum.target(sequence, i0, rows, qs.length);
        float[] dkTarget = w.dkSum.target(sequence, i0, rows, qs.length);
        kernels.accumulateTransposedProduct(w.s, rows, cols, da, dOff, sa.shape.dim(), dvTarget, 0);
        kernels.accumulateTransposedProduct(w.ds, rows, cols, qa, qOff, sa.shape.dim(), dkTarget, 0);
        return (long) rows * cols;
    }

    /**
     * Where rows [i0, i0 + rows) of head (b, h) of {@code t} are to be read: at their offset in
     * {@code heap}, t's heap array, or, when t has none, copied to the start of {@code scratch}.
     */
    private static int rowsAt(Tensor t, float[] heap, int b, int h, int i0, int rows, float[] scratch) {
        if (heap != null) {
            return (int) t.rowOffset(b, h, i0);
        }
        t.rows(b, h, i0, rows).copyTo(scratch, 0);
        return 0;
    }

    /**
     * With Q_i at {@code q[qOff ..]} and dO_i at {@code dOut[dOff ..]} (rows × d each):
     * w.s = P_ij = exp(scale·Q_i K_jᵀ − LSE_i) (0 where masked or where a row sees no key) and
     * w.ds = P_ij ∘ (dO_i V_jᵀ − D_i).
     */
    private void probabilitiesAndScoreGradients(ShardAttention.Workspace w, Mask m, Mask.Visibility vis, int b,
            int h, int i0, int rows, int j0, int cols, float[] q, int qOff, float[] dOut, int dOff) {
        AttentionShape shape = sa.shape;
        int d = shape.dim();
        int rowBase = (b * shape.qHeads() + h) * qs.length + i0;
        int off = kv.offset(b, shape.kvHead(h), j0);
        kernels.scoreTile(q, qOff, rows, kv.k, off, cols, d, sa.scale, w.s, null);
        if (m.adjustsScores()) {
            m.adjust(b, h, i0, rows, j0, cols, w.s, w.dCap);
        }
        if (vis == Mask.Visibility.PARTIAL) {
            m.apply(b, h, i0, rows, j0, cols, w.s);
        }
        for (int r = 0; r < rows; r++) {
            float lse = qs.lse[rowBase + r];
            if (lse == Float.NEGATIVE_INFINITY) {
                Arrays.fill(w.s, r * cols, (r + 1) * cols, 0f); // the row sees no key
            } else {
                kernels.expShifted(w.s, r * cols, cols, lse);
            }
        }
        kernels.scoreTile(dOut, dOff, rows, kv.v, off, cols, d, 1f, w.ds, null);
        for (int r = 0; r < rows; r++) {
            float dr = qs.delta[rowBase + r];
            for (int c = r * cols, end = c + cols; c < end; c++) {
                w.ds[c] = w.s[c] * (w.ds[c] - dr);
            }
        }
        if (w.dCap != null) { // through the soft cap: dS of the product = dS · (1 − tanh²)
            for (int c = 0, end = rows * cols; c < end; c++) {
                w.ds[c] *= w.dCap[c];
            }
        }
    }
}
