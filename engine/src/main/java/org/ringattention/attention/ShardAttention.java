package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.ringattention.kernel.Kernels;
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
 * One task per key/value block computes each tile once (5 tile products): it owns dK_j and dV_j
 * and sums them over all query blocks of the shard (and, with GQA, over the query heads of the
 * group, in increasing head order); it adds dS_ij K_j to each dQ_i in its turn, after the tasks of
 * the key blocks before it ({@link QueryGradients}). The factor {@code scale} is applied once,
 * after the last shard.
 *
 * <p><b>Determinism.</b> Each output row is summed in a fixed order, by the task that owns it or,
 * for dQ, in key order, with kernels whose results do not depend on the vector width
 * ({@link Kernels}); so results do not depend on which thread runs a task. Sums are
 * {@link ChunkedSum}s whose regions are named by shard, so a sum's rounding does not depend on the
 * block sizes either.
 */
public final class ShardAttention {

    private final Kernels kernels;
    private final AttentionShape shape;
    private final Mask mask;
    private final float scale;
    private final int blockQ;
    private final int blockKv;
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

    private void checkStop() {
        if (stop != null && stop.getAsBoolean()) {
            throw new StreamingAttention.Stopped();
        }
    }

    /** A query shard of the queries {@code q} [B, Hq, n, d] at {@code positions}. */
    public QueryShard queryShard(int id, Tensor q, Positions positions) {
        if (q.batch() != shape.batch() || q.heads() != shape.qHeads() || q.dim() != shape.dim()) {
            throw new IllegalArgumentException("query shard " + q.shape() + " does not fit " + shape);
        }
        return new QueryShard(id, q, positions, blockQ);
    }

    /**
     * A query shard whose forward result is given, O {@code out} [B, Hq, n, d] and LSE {@code lse}
     * [B, Hq, n] of its rows: ready for {@link #startBackward} without a forward pass.
     */
    public QueryShard queryShard(int id, Tensor q, Positions positions, Tensor out, float[] lse) {
        if (q.batch() != shape.batch() || q.heads() != shape.qHeads() || q.dim() != shape.dim()) {
            throw new IllegalArgumentException("query shard " + q.shape() + " does not fit " + shape);
        }
        return new QueryShard(id, q, positions, blockQ, out, lse);
    }

    /** An empty key/value buffer with room for {@code capacity} rows per head. */
    public KvShard kvBuffer(int capacity, boolean backward) {
        return new KvShard(shape.batch(), shape.kvHeads(), Math.max(1, capacity), shape.dim(), backward);
    }

    /**
     * Fills {@code buffer} with the keys and values at {@code positions} of {@code k} and {@code v}
     * [B, Hkv, N, d], owned by {@code owner}: packs K (and, for the backward pass, V) block by
     * block, transposed; zeroes dK and dV. {@link #startLoad} and then {@link #loadHead} for every
     * key/value head, which may run on several threads.
     */
    public void load(KvShard buffer, int owner, Tensor k, Tensor v, Positions positions) {
        startLoad(buffer, owner, k, v, positions);
        for (int head = 0; head < kvHeadCount(); head++) {
            loadHead(buffer, k, v, head);
        }
    }

    /** The number of key/value heads B·Hkv: the pieces of {@link #load}. */
    public int kvHeadCount() {
        return shape.batch() * shape.kvHeads();
    }

    /** The first part of {@link #load}: describes the shard and, for the backward pass, zeroes dK and dV. */
    public void startLoad(KvShard buffer, int owner, Tensor k, Tensor v, Positions positions) {
        int n = positions.length();
        if (n > buffer.capacity || v.rows() != k.rows()) {
            throw new IllegalArgumentException("key/value shard of " + n + " rows does not fit a buffer of "
                    + buffer.capacity + " rows, or v and k differ in length");
        }
        buffer.changed();
        buffer.owner = owner;
        buffer.positions = positions;
        buffer.length = n;
        buffer.blockCols = Math.max(1, Math.min(blockKv, n));
        if (buffer.backward) {
            Arrays.fill(buffer.dk, 0, buffer.used(), 0f);
            Arrays.fill(buffer.dv, 0, buffer.used(), 0f);
        }
    }

    /**
     * The rest of {@link #load} for key/value head {@code head} (b·Hkv + g), after {@link #startLoad}.
     * Checks the keys and values block by block while they are in cache: throws
     * {@link NonFiniteInput} at the first block holding NaN or ±∞.
     */
    public void loadHead(KvShard buffer, Tensor k, Tensor v, int head) {
        int b = head / shape.kvHeads();
        int g = head % shape.kvHeads();
        if (buffer.backward) { // the backward pass reads K as rows too
            loadBlocks(buffer, k, "k", b, g, buffer.keyRowsToFill(head), buffer.k);
            loadBlocks(buffer, v, "v", b, g, null, buffer.v);
        } else {
            loadBlocks(buffer, k, "k", b, g, null, buffer.k);
            loadBlocks(buffer, v, "v", b, g, buffer.v, null);
        }
    }

    /**
     * Copies head (b, g) of input {@code name}, {@code x}, at the shard's positions block by block,
     * checking each block: as rows into {@code rows} at the block's offset when it is not null, else
     * into one block of scratch (no copy of the whole head); and packed transposed into
     * {@code packed} when that is not null.
     */
    private void loadBlocks(KvShard buffer, Tensor x, String name, int b, int g, float[] rows, float[] packed) {
        int d = shape.dim();
        float[] block = rows != null ? rows : new float[buffer.blockCols * d];
        for (int j0 = 0; j0 < buffer.length; j0 += buffer.blockCols) {
            checkStop();
            int cols = Math.min(buffer.blockCols, buffer.length - j0);
            int off = buffer.offset(b, g, j0);
            int at = rows != null ? off : 0;
            buffer.positions.gather(x, b, g, j0, cols, block, at);
            requireFinite(block, at, cols * d, name);
            if (packed != null) {
                kernels.packTransposed(block, at, cols, d, packed, off);
            }
        }
    }

    /** Throws {@link NonFiniteInput} when {@code x[off .. off + len)}, a block of input {@code what}, is not all finite. */
    private void requireFinite(float[] x, int off, int len, String what) {
        if (!kernels.allFinite(x, off, len)) {
            throw new NonFiniteInput(what);
        }
    }

    /** A worker's buffers for shards of at most {@code maxQueryRows} and {@code maxKvRows} rows. */
    public Workspace workspace(int maxQueryRows, int maxKvRows) {
        return new Workspace(Math.max(1, Math.min(blockQ, maxQueryRows)), Math.max(1, Math.min(blockKv, maxKvRows)),
                shape.dim(), mask.softcaps());
    }

    // ---------------------------------------------------------------- forward

    /**
     * The last query blocks of a pass run as two tasks each, one per half of their rows, so that
     * the workers finish together. With tasks of equal size the worker that runs a little slower
     * took the last one, and the other waited for it: 0.1 to 2.7 ms of a 90 ms pass at N = 4096,
     * d = 128 on 2 threads (up to one whole task). Rows are independent, so the split changes no
     * bits; tiles are still counted per query block.
     */
    private static final int SPLIT_BLOCKS = 4;

    /** The number of forward tasks of a query shard: one per head and query block, two for each of the last blocks. */
    public int queryTasks(QueryShard qs) {
        int blocks = shape.batch() * shape.qHeads() * blocks(qs.length, qs.blockRows);
        return blocks + splitBlocks(blocks);
    }

    private static int splitBlocks(int blocks) {
        return Math.min(SPLIT_BLOCKS, blocks);
    }

    /**
     * Forward task {@code task} of {@code qs} over the key/value shard {@code kv}: absorbs the
     * shard into the rows' running state; {@code first} starts the state, {@code last} finishes O
     * and LSE. Tasks are numbered so that, under a causal mask, the heaviest come first. Returns the
     * number of query-key pairs computed (skipped tiles not counted). Throws {@link NonFiniteInput}
     * when the task's queries hold NaN or ±∞.
     */
    public long forward(Workspace w, QueryShard qs, KvShard kv, int task, boolean first, boolean last) {
        QueryBlock blk = queryBlock(qs, task);
        int b = blk.b;
        int h = blk.h;
        int i0 = blk.i0;
        int rows = blk.rows;
        int rowBase = blk.row;
        if (rows == 0) {
            return 0; // the empty second half of a block of one to three rows
        }
        int g = shape.kvHead(h);
        Mask m = mask.forShards(qs.positions, kv.positions);
        qs.q.rows(b, h, i0, rows).copyTo(w.q, 0);
        requireFinite(w.q, 0, rows * shape.dim(), "q");
        if (first) {
            w.softmax.reset(rows);
        } else {
            w.softmax.load(rows, qs.max, qs.sum, qs.acc, rowBase);
        }
        long pairs = 0;
        for (int j0 = 0; j0 < kv.length; j0 += kv.blockCols) {
            checkStop();
            long tile = m.adjustsScores() ? adjustedForwardTile(w, m, kv, b, h, i0, rows, j0)
                    : forwardTile(w, m, kv, b, g, h, i0, rows, j0);
            pairs += tile;
            if (blk.countsTiles()) {
                countTile(w, m, blk, kv, j0, tile);
            }
        }
        if (last) {
            if (mask.hasSinks()) {
                w.softmax.finish(w.o, qs.lse, rowBase, mask.sink(h));
            } else {
                w.softmax.finish(w.o, qs.lse, rowBase);
            }
            qs.out.rows(b, h, i0, rows).copyFrom(w.o, 0);
        } else {
            qs.ensureState();
            w.softmax.store(qs.max, qs.sum, qs.acc, rowBase);
        }
        return pairs;
    }

    /**
     * One tile of a forward task: the query block [i0, i0 + rows) of batch b against the key/value
     * block at j0 of head g. A method of its own, called once per tile, so that C2 compiles the
     * per-tile work within the first few passes. A task method runs only a few hundred times per
     * pass, and C2 compiles it after some fifteen passes; while the tile work sat in it, its C1
     * (profiling) code ran two threads at about the speed of one (measured with
     * -XX:+PrintCompilation: a 2-thread causal benchmark doubled its speed the moment C2's
     * {@code forward} was installed, seconds into the run).
     */
    private long forwardTile(Workspace w, Mask m, KvShard kv, int b, int g, int h, int i0, int rows, int j0) {
        int cols = Math.min(kv.blockCols, kv.length - j0);
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        int off = kv.offset(b, g, j0);
        boolean full = vis == Mask.Visibility.FULL;
        kernels.scoreTile(w.q, 0, rows, kv.k, off, cols, shape.dim(), scale, w.s, full ? w.rowMax : null);
        if (!full) {
            m.apply(b, h, i0, rows, j0, cols, w.s);
        }
        w.softmax.absorb(w.s, kv.owner, j0, cols, kv.length, kv.v, off, kernels, full ? w.rowMax : null);
        return (long) rows * cols;
    }

    /**
     * {@link #forwardTile} when the score rule changes scores after the product (soft cap, ALiBi):
     * the kernel's row maxima are those of the products, so the softmax finds its own.
     */
    private long adjustedForwardTile(Workspace w, Mask m, KvShard kv, int b, int h, int i0, int rows, int j0) {
        int cols = Math.min(kv.blockCols, kv.length - j0);
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        int off = kv.offset(b, shape.kvHead(h), j0);
        kernels.scoreTile(w.q, 0, rows, kv.k, off, cols, shape.dim(), scale, w.s, null);
        m.adjust(b, h, i0, rows, j0, cols, w.s, null);
        if (vis == Mask.Visibility.PARTIAL) {
            m.apply(b, h, i0, rows, j0, cols, w.s);
        }
        w.softmax.absorb(w.s, kv.owner, j0, cols, kv.length, kv.v, off, kernels, null);
        return (long) rows * cols;
    }

    /**
     * Counts the tile of query block {@code blk} and the key block at j0 as computed or skipped,
     * {@code pairs} being what the task computed of it; the first half of a split block counts the
     * whole block's tile, the second half nothing.
     */
    private static void countTile(Workspace w, Mask m, QueryBlock blk, KvShard kv, int j0, long pairs) {
        boolean computed = pairs > 0;
        if (blk.rows != blk.blockRows) {
            int cols = Math.min(kv.blockCols, kv.length - j0);
            computed = m.classify(blk.b, blk.h, blk.blockI0, blk.blockI0 + blk.blockRows, j0, j0 + cols)
                    != Mask.Visibility.HIDDEN;
        }
        if (computed) {
            w.tilesComputed++;
        } else {
            w.tilesSkipped++;
        }
    }

    // ---------------------------------------------------------------- backward

    /**
     * Prepares {@code qs} for the backward pass with the upstream gradient {@code dOut} of its rows
     * [B, Hq, n, d]: D = rowsum(dO ∘ O) from the shard's forward result, and dQ = 0.
     * {@link #prepareBackward} and then {@link #rowDots} for every query head, which may run on
     * several threads.
     */
    public void startBackward(QueryShard qs, Tensor dOut) {
        prepareBackward(qs, dOut);
        for (int head = 0; head < qHeadCount(); head++) {
            rowDots(qs, head);
        }
    }

    /** The number of query heads B·Hq: the pieces of {@link #startBackward}. */
    public int qHeadCount() {
        return shape.batch() * shape.qHeads();
    }

    /** The first part of {@link #startBackward}: checks dO, allocates D and dQ (zero). */
    public void prepareBackward(QueryShard qs, Tensor dOut) {
        if (dOut.batch() != qs.q.batch() || dOut.heads() != qs.q.heads() || dOut.rows() != qs.length
                || dOut.dim() != qs.q.dim()) {
            throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", expected the shape of q "
                    + qs.q.shape());
        }
        qs.dOut = dOut;
        qs.delta = new float[qHeadCount() * qs.length];
        qs.grads = new QueryGradients(qHeadCount(), qs.length, qs.blockRows, shape.dim());
    }

    /** D = rowsum(dO ∘ O) of the rows of query head {@code head} (b·Hq + h), each sum in increasing order. */
    public void rowDots(QueryShard qs, int head) {
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
    }

    /** The number of backward tasks of a key/value shard: one per key/value head and block. */
    public int keyValueTasks(KvShard kv) {
        return shape.batch() * shape.kvHeads() * blocks(kv.length, kv.blockCols);
    }

    /**
     * Backward task {@code task}: adds the contributions of the queries of {@code qs} to dK_j and
     * dV_j of one key/value block of {@code kv}, and that block's contributions to the dQ_i of every
     * query block in its turn ({@link QueryGradients}); all before the factor scale. Tasks of a shard
     * must be started in increasing order. Returns the number of query-key pairs computed.
     */
    public long gradients(Workspace w, QueryShard qs, KvShard kv, int task) {
        try {
            return keyValueGradients(w, qs, kv, task);
        } catch (Throwable t) {
            qs.grads.abandon(); // tasks waiting for this one's turns stop too
            throw t;
        }
    }

    private long keyValueGradients(Workspace w, QueryShard qs, KvShard kv, int task) {
        int kvBlocks = blocks(kv.length, kv.blockCols);
        int head = task / kvBlocks;
        int b = head / shape.kvHeads();
        int g = head % shape.kvHeads();
        int jb = task % kvBlocks;
        int j0 = jb * kv.blockCols;
        int d = shape.dim();
        int cols = Math.min(kv.blockCols, kv.length - j0);
        int off = kv.offset(b, g, j0);
        Mask m = mask.forShards(qs.positions, kv.positions);
        w.dkSum.load(kv.dk, off, cols * d);
        w.dvSum.load(kv.dv, off, cols * d);
        // Q_i and dO_i are read in place from heap tensors; other storage is copied block by block.
        float[] qHeap = qs.q.heapArray();
        float[] dHeap = qs.dOut.heapArray();
        float[] keyRows = kv.keyRows(b, g);
        boolean last = jb == kvBlocks - 1;
        long pairs = 0;
        for (int h = g * shape.group(); h < (g + 1) * shape.group(); h++) {
            for (int i0 = 0; i0 < qs.length; i0 += qs.blockRows) {
                int rows = Math.min(qs.blockRows, qs.length - i0);
                long tile = keyValueTile(w, m, qs, kv, b, h, i0, rows, j0, cols, qHeap, dHeap);
                int slot = qs.grads.slot(b * shape.qHeads() + h, i0);
                ChunkedSum dq = qs.grads.awaitTurn(slot, jb);
                if (tile > 0) { // not hidden by the mask
                    kernels.accumulateProduct(w.ds, rows, cols, keyRows, off, d,
                            dq.target(kv.owner, j0, cols, kv.length), dq.base);
                }
                qs.grads.pass(slot, jb, last);
                pairs += tile;
            }
        }
        w.dkSum.store(kv.dk, off, cols * d);
        w.dvSum.store(kv.dv, off, cols * d);
        return pairs;
    }

    /**
     * One tile of a backward task: query block [i0, i0 + rows) of head h against the key/value
     * block at j0 (cols keys); leaves P_ij and dS_ij in the workspace and adds to dV_j and dK_j. A
     * method of its own for the JIT, as {@link #forwardTile}.
     */
    private long keyValueTile(Workspace w, Mask m, QueryShard qs, KvShard kv, int b, int h, int i0, int rows,
            int j0, int cols, float[] qHeap, float[] dHeap) {
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        float[] qa = qHeap != null ? qHeap : w.q;
        int qOff = rowsAt(qs.q, qHeap, b, h, i0, rows, w.q);
        float[] da = dHeap != null ? dHeap : w.dOut;
        int dOff = rowsAt(qs.dOut, dHeap, b, h, i0, rows, w.dOut);
        probabilitiesAndScoreGradients(w, m, qs, kv, vis, b, h, i0, rows, j0, cols, qa, qOff, da, dOff);
        int sequence = qs.id * shape.qHeads() + h;
        float[] dvTarget = w.dvSum.target(sequence, i0, rows, qs.length);
        float[] dkTarget = w.dkSum.target(sequence, i0, rows, qs.length);
        kernels.accumulateTransposedProduct(w.s, rows, cols, da, dOff, shape.dim(), dvTarget, 0);
        kernels.accumulateTransposedProduct(w.ds, rows, cols, qa, qOff, shape.dim(), dkTarget, 0);
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

    /** Multiplies the shard's dQ by scale, once its sums over all keys are complete. */
    public void finishQueryGradients(QueryShard qs) {
        scale(qs.grads.dq, qs.grads.dq.length, scale);
    }

    /** Multiplies the shard's dK by scale, once its sums over all queries are complete. */
    public void finishKeyValueGradients(KvShard kv) {
        scale(kv.dk, kv.used(), scale);
    }

    /** Makes backward tasks of {@code qs} that wait for another task's turn throw: for a ring that stops. */
    public void abandonGradients(QueryShard qs) {
        if (qs.grads != null) {
            qs.grads.abandon();
        }
    }

    /**
     * With Q_i at {@code q[qOff ..]} and dO_i at {@code dOut[dOff ..]} (rows × d each):
     * w.s = P_ij = exp(scale·Q_i K_jᵀ − LSE_i) (0 where masked or where a row sees no key) and
     * w.ds = P_ij ∘ (dO_i V_jᵀ − D_i).
     */
    private void probabilitiesAndScoreGradients(Workspace w, Mask m, QueryShard qs, KvShard kv,
            Mask.Visibility vis, int b, int h, int i0, int rows, int j0, int cols, float[] q, int qOff,
            float[] dOut, int dOff) {
        int d = shape.dim();
        int rowBase = (b * shape.qHeads() + h) * qs.length + i0;
        int off = kv.offset(b, shape.kvHead(h), j0);
        kernels.scoreTile(q, qOff, rows, kv.k, off, cols, d, scale, w.s, null);
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

    private static void scale(float[] x, int len, float s) {
        for (int i = 0; i < len; i++) {
            x[i] *= s;
        }
    }

    /**
     * Rows [i0, i0 + rows) of head (b, h), the first being row {@code row} of [B, Hq, n]: the query
     * block [blockI0, blockI0 + blockRows) or a half of it.
     */
    private record QueryBlock(int b, int h, int i0, int rows, int row, int blockI0, int blockRows) {

        /** Whether tiles are counted for these rows: a whole block or a first half. */
        boolean countsTiles() {
            return i0 == blockI0;
        }
    }

    /**
     * Query task {@code task} of {@code qs}: heads in order, each head's last block first; the
     * last {@link #SPLIT_BLOCKS} blocks of that order as two tasks each, the first half a multiple
     * of four rows (the score kernel's row group).
     */
    private QueryBlock queryBlock(QueryShard qs, int task) {
        int qBlocks = blocks(qs.length, qs.blockRows);
        int blocks = shape.batch() * shape.qHeads() * qBlocks;
        int whole = blocks - splitBlocks(blocks);
        int block = task < whole ? task : whole + (task - whole) / 2;
        int head = block / qBlocks;
        int b = head / shape.qHeads();
        int h = head % shape.qHeads();
        int i0 = (qBlocks - 1 - block % qBlocks) * qs.blockRows;
        int rows = Math.min(qs.blockRows, qs.length - i0);
        int row = head * qs.length + i0;
        if (task < whole) {
            return new QueryBlock(b, h, i0, rows, row, i0, rows);
        }
        int first = Math.min(rows, Math.max(4, (rows / 2 + 3) / 4 * 4));
        return (task - whole) % 2 == 0
                ? new QueryBlock(b, h, i0, first, row, i0, rows)
                : new QueryBlock(b, h, i0 + first, rows - first, row + first, i0, rows);
    }

    private static int blocks(int n, int block) {
        return (n + block - 1) / block;
    }

    /** One worker's buffers, allocated once: nothing is allocated per tile. */
    public static final class Workspace {
        final float[] q;
        final float[] dOut;
        final float[] o;
        final float[] s;
        final float[] ds;
        final float[] rowMax;
        final float[] dCap; // ∂s/∂(scale·q·k) of a tile, only with a soft cap
        final OnlineSoftmax softmax;
        final ChunkedSum dkSum;
        final ChunkedSum dvSum;
        long tilesComputed;
        long tilesSkipped;

        Workspace(int bq, int bkv, int d, boolean softcap) {
            q = new float[bq * d];
            dOut = new float[bq * d];
            o = new float[bq * d];
            s = new float[bq * bkv];
            ds = new float[bq * bkv];
            rowMax = new float[bq];
            dCap = softcap ? new float[bq * bkv] : null;
            softmax = new OnlineSoftmax(bq, d);
            dkSum = new ChunkedSum(bkv * d);
            dvSum = new ChunkedSum(bkv * d);
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
            long floats = q.length + dOut.length + o.length + s.length + ds.length
                    + rowMax.length + (dCap == null ? 0 : dCap.length) + 2L * (dkSum.total.length + dvSum.total.length)
                    + softmax.floats();
            return floats * Float.BYTES;
        }
    }
}
