package org.ringattention.attention;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.BooleanSupplier;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * Blockwise attention of inputs larger than the heap: the sequence cut into query chunks of
 * {@code chunkQ} rows and key/value chunks of {@code chunkKv} rows, run as a ring of virtual
 * devices one after the other. For each query chunk (a {@link QueryShard} holding the running
 * state m, l, õ of its rows) the key/value chunks it can see are loaded one by one into a single
 * {@link KvShard} buffer, straight from the inputs, and absorbed by {@link ShardAttention}; after
 * the last one O and LSE of the chunk are written into the output tensors. Inputs and outputs may
 * be of any storage; with memory-mapped files ({@link org.ringattention.tensor.MappedNpy}) the
 * heap holds one query chunk's queries, state and results, one key/value chunk and one workspace
 * per thread: O((chunkQ·Hq + chunkKv·Hkv)·B·d), whatever N is.
 *
 * <p><b>Same bits as {@link BlockwiseAttention}</b> with the same block sizes, when chunkQ is a
 * multiple of B_q and chunkKv a multiple of B_kv and of {@link Kernels#CHUNK} (the constructor
 * checks it). A query block meets the same key blocks in the same order either way, and the
 * running sums ({@link ChunkedSum}) fold at the same places: their regions are {@link Kernels#CHUNK}
 * positions wide and named by key/value shard, so a chunk boundary that is a region boundary folds
 * exactly where the whole-sequence sweep folds, and carrying (m, l, õ) from one chunk to the next
 * ({@link OnlineSoftmax#store}, {@link OnlineSoftmax#load}) copies floats without rounding. Key/value
 * chunks the mask hides from a whole query chunk are not loaded: the sweep skips their tiles too.
 *
 * <p>Query chunks run in order; the caller hears of each finished one ({@link Listener}), which is
 * what checkpoints and resumption ({@code firstChunk}) build on: a chunk's rows depend only on the
 * inputs, so a run resumed at a chunk gives the bits of an uninterrupted run. A {@code stop}
 * request is seen between two tiles (B_q × B_kv) of every task and between two blocks of a
 * key/value load, and before a finished chunk is written; it ends the run with {@link Stopped},
 * abandoning the query chunk under way (its rows are recomputed on resumption, so finished chunks
 * and resumed runs keep their bits).
 */
public final class StreamingAttention {

    /** Told when a query chunk's rows of O and LSE are written. */
    @FunctionalInterface
    public interface Listener {
        /** {@code chunk} of {@code chunks} is done; {@code pairs} query-key pairs were computed for it. */
        void chunkDone(int chunk, int chunks, long pairs);

        /** One key/value chunk of {@code chunk} was absorbed; by default nothing. */
        default void kvChunkDone(int chunk) {
        }

        /**
         * A task computed {@code pairs} query-key pairs (for progress); called on the worker
         * threads, so it must be thread-safe and quick. By default nothing.
         */
        default void pairsDone(long pairs) {
        }
    }

    /** Thrown when a stop was requested: the chunks reported done are complete, the others are not. */
    public static final class Stopped extends RuntimeException {
        Stopped() {
            super("stopped on request", null, false, false);
        }
    }

    /** What a run did. */
    public record Result(int chunksRun, long pairs, long tilesComputed, long tilesSkipped, long kvChunksLoaded) {
    }

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;
    private final int threads;
    private final int chunkQ;
    private final int chunkKv;

    /**
     * @throws IllegalArgumentException unless chunkQ is a positive multiple of blockQ and chunkKv
     *     a positive multiple of blockKv and of {@link Kernels#CHUNK} (see the class comment)
     */
    public StreamingAttention(Kernels kernels, int blockQ, int blockKv, int threads, int chunkQ, int chunkKv) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (blockQ < 1 || blockKv < 1 || threads < 1) {
            throw new IllegalArgumentException("block sizes and threads must be >= 1, got " + blockQ + ", " + blockKv
                    + ", " + threads);
        }
        if (chunkQ < 1 || chunkQ % blockQ != 0) {
            throw new IllegalArgumentException("the query chunk (" + chunkQ + " rows) must be a positive multiple of"
                    + " the query block (" + blockQ + ")");
        }
        if (chunkKv < 1 || chunkKv % kvChunkUnit(blockKv) != 0) {
            throw new IllegalArgumentException("the key/value chunk (" + chunkKv + " rows) must be a positive multiple"
                    + " of " + kvChunkUnit(blockKv) + " (the key/value block " + blockKv + " and " + Kernels.CHUNK + ")");
        }
        this.blockQ = blockQ;
        this.blockKv = blockKv;
        this.threads = threads;
        this.chunkQ = chunkQ;
        this.chunkKv = chunkKv;
    }

    /** The smallest key/value chunk for blocks of {@code blockKv}: lcm(blockKv, {@link Kernels#CHUNK}). */
    public static int kvChunkUnit(int blockKv) {
        int a = blockKv;
        int b = Kernels.CHUNK;
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        return Math.multiplyExact(blockKv / a, Kernels.CHUNK);
    }

    /** Bytes of K and V of one head that a key/value chunk is sized to: a Zen 5 core's L2. */
    static final int KV_CHUNK_BYTES = 1 << 20;

    /**
     * A key/value chunk of at most {@code limit} rows whose keys and values of one head fit
     * {@link #KV_CHUNK_BYTES} (at least one {@link #kvChunkUnit}): every query block of a query
     * chunk passes over the key/value chunk while it is in L2, where a chunk as long as the
     * query chunk streams its blocks from L3 or memory for every query block. The bits do not
     * depend on it (class comment); docs/performance.md has the measurement.
     */
    public static int cacheKvChunk(int dim, int blockKv, int limit) {
        int unit = kvChunkUnit(blockKv);
        long fits = KV_CHUNK_BYTES / (2L * Float.BYTES * Math.max(1, dim)) / unit * unit;
        return (int) Math.max(unit, Math.min(fits, Math.max(unit, limit)));
    }

    public int chunkQ() {
        return chunkQ;
    }

    public int chunkKv() {
        return chunkKv;
    }

    /** The number of query chunks of a sequence of {@code qLen} queries. */
    public int queryChunks(int qLen) {
        return (int) ((qLen + (long) chunkQ - 1) / chunkQ);
    }

    /**
     * For each query chunk, the key/value chunks it sees (ascending): those the mask does not hide
     * from all of its rows, or chunk 0 alone when it hides them all (the rows then finish as rows
     * that see no key).
     */
    public int[][] visibleChunks(AttentionShape shape, AttentionSpec spec) {
        Mask mask = Mask.of(spec, shape);
        int qChunks = queryChunks(shape.qLen());
        int kvChunks = (int) ((shape.kvLen() + (long) chunkKv - 1) / chunkKv);
        int[][] out = new int[qChunks][];
        for (int qc = 0; qc < qChunks; qc++) {
            int i0 = qc * chunkQ;
            int rows = Math.min(chunkQ, shape.qLen() - i0);
            List<Integer> seen = new ArrayList<>();
            for (int kc = 0; kc < kvChunks; kc++) {
                int j0 = kc * chunkKv;
                int cols = Math.min(chunkKv, shape.kvLen() - j0);
                if (visibleAnywhere(mask, shape, i0, rows, j0, cols)) {
                    seen.add(kc);
                }
            }
            out[qc] = seen.isEmpty() ? new int[] {0} : seen.stream().mapToInt(Integer::intValue).toArray();
        }
        return out;
    }

    /**
     * The query-key pairs a run from query chunk {@code firstChunk} on computes (the tiles the mask
     * does not hide, whole): the total of a progress bar. Tiles are classified only in the chunk
     * pairs the mask hides in part.
     */
    public long plannedPairs(AttentionShape shape, AttentionSpec spec, int firstChunk) {
        Mask mask = Mask.of(spec, shape);
        int[][] visible = visibleChunks(shape, spec);
        int heads = mask.perHead() ? shape.qHeads() : 1;
        long perHeadFactor = mask.perHead() ? 1 : shape.qHeads();
        long total = 0;
        for (int qc = firstChunk; qc < visible.length; qc++) {
            int i0 = qc * chunkQ;
            int rows = Math.min(chunkQ, shape.qLen() - i0);
            for (int kc : visible[qc]) {
                int j0 = kc * chunkKv;
                int cols = Math.min(chunkKv, shape.kvLen() - j0);
                for (int b = 0; b < shape.batch(); b++) {
                    for (int h = 0; h < heads; h++) {
                        total += perHeadFactor * pairs(mask, b, h, i0, rows, j0, cols);
                    }
                }
            }
        }
        return total;
    }

    private long pairs(Mask mask, int b, int h, int i0, int rows, int j0, int cols) {
        Mask.Visibility whole = mask.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (whole != Mask.Visibility.PARTIAL) {
            return whole == Mask.Visibility.FULL ? (long) rows * cols : 0;
        }
        long n = 0;
        for (int i = i0; i < i0 + rows; i += blockQ) {
            int r = Math.min(blockQ, i0 + rows - i);
            for (int j = j0; j < j0 + cols; j += blockKv) {
                int c = Math.min(blockKv, j0 + cols - j);
                if (mask.classify(b, h, i, i + r, j, j + c) != Mask.Visibility.HIDDEN) {
                    n += (long) r * c;
                }
            }
        }
        return n;
    }

    private static boolean visibleAnywhere(Mask mask, AttentionShape shape, int i0, int rows, int j0, int cols) {
        for (int b = 0; b < shape.batch(); b++) {
            for (int h = 0; h < shape.qHeads(); h++) {
                if (mask.classify(b, h, i0, i0 + rows, j0, j0 + cols) != Mask.Visibility.HIDDEN) {
                    return true;
                }
                if (!mask.perHead()) {
                    break;
                }
            }
        }
        return false;
    }

    /**
     * O (into {@code out}, shaped like q) and LSE (into {@code lse} [B, Hq, Nq, 1], or not when
     * null) of the query chunks from {@code firstChunk} on; the rows of earlier chunks are left as
     * they are. Inputs must be finite (an {@link IllegalArgumentException} names the first NaN or
     * ±∞ of the chunk that holds it).
     *
     * @throws Stopped when {@code stop} answers true (asked between two tiles of a task, see the class comment)
     */
    public Result forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec, Tensor out, Tensor lse, int firstChunk,
            Listener listener, BooleanSupplier stop) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        if (out.batch() != q.batch() || out.heads() != q.heads() || out.rows() != q.rows() || out.dim() != q.dim()) {
            throw new IllegalArgumentException("O " + out.shape() + " does not fit q " + q.shape());
        }
        if (lse != null && (lse.batch() != q.batch() || lse.heads() != q.heads() || lse.rows() != q.rows()
                || lse.dim() != 1)) {
            throw new IllegalArgumentException("LSE " + lse.shape() + " does not fit q " + q.shape());
        }
        int qChunks = queryChunks(shape.qLen());
        if (firstChunk < 0 || firstChunk > qChunks) {
            throw new IllegalArgumentException("first chunk " + firstChunk + " is not in [0, " + qChunks + "]");
        }
        ShardAttention sa = new ShardAttention(kernels, shape, spec, blockQ, blockKv);
        sa.stopWhen(stop);
        int[][] visible = visibleChunks(shape, spec);
        ShardAttention.Workspace[] ws = workspaces(sa);
        TaskScheduler<ShardAttention.Workspace> scheduler = new TaskScheduler<>(ws);
        KvShard kv = sa.kvBuffer(Math.min(chunkKv, shape.kvLen()), false);
        int loadedChunk = -1;
        long pairs = 0;
        long loads = 0;
        int b = shape.batch();
        int hq = shape.qHeads();
        int d = shape.dim();
        for (int qc = firstChunk; qc < qChunks; qc++) {
            int i0 = qc * chunkQ;
            int rows = Math.min(chunkQ, shape.qLen() - i0);
            Tensor qChunk = Tensor.zeros(b, hq, rows, d);
            for (int bb = 0; bb < b; bb++) {
                for (int h = 0; h < hq; h++) {
                    q.rows(bb, h, i0, rows).copyTo(qChunk.heapArray(), (int) qChunk.rowOffset(bb, h, 0));
                }
            }
            QueryShard qs = sa.queryShard(qc, qChunk, Positions.range(i0, rows));
            int[] kcs = visible[qc];
            long chunkPairs = 0;
            for (int x = 0; x < kcs.length; x++) {
                int kc = kcs[x];
                if (kc != loadedChunk) {
                    int j0 = kc * chunkKv;
                    int cols = Math.min(chunkKv, shape.kvLen() - j0);
                    checkStop(stop);
                    try {
                        scheduler.runAll(sa.keyValueLoad(kv, kc, k, v, Positions.range(j0, cols)));
                    } catch (NonFiniteInput e) {
                        loadedChunk = -1;
                        throw named(e, k, v, "k", "v", j0, cols);
                    }
                    loadedChunk = kc;
                    loads++;
                }
                boolean first = x == 0;
                boolean last = x == kcs.length - 1;
                Tasks<ShardAttention.Workspace> step = sa.forwardStep(qs, kv, first, last);
                try {
                    chunkPairs += runReporting(scheduler, step, listener);
                } catch (NonFiniteInput e) {
                    throw named(e, q, null, "q", null, i0, rows);
                }
                if (listener != null) {
                    listener.kvChunkDone(qc);
                }
            }
            checkStop(stop); // before the chunk is written and recorded: forcing it to disk takes a while
            float[] o = qs.out().heapArray();
            float[] l = qs.lse();
            for (int bb = 0; bb < b; bb++) {
                for (int h = 0; h < hq; h++) {
                    int head = bb * hq + h;
                    out.rows(bb, h, i0, rows).copyFrom(o, (int) qs.out().rowOffset(bb, h, 0));
                    if (lse != null) {
                        lse.rows(bb, h, i0, rows).copyFrom(l, head * rows);
                    }
                }
            }
            pairs += chunkPairs;
            if (listener != null) {
                listener.chunkDone(qc, qChunks, chunkPairs);
            }
        }
        return result(ws, qChunks - firstChunk, pairs, loads);
    }

    /**
     * The backward pass: dQ (into {@code dq}, shaped like q), dK and dV (into {@code dk} and
     * {@code dv}, shaped like k) of Σ dO ∘ O, given the forward result {@code out} and {@code lse}
     * (as {@link #forward} writes them) and the upstream gradient {@code dOut} (shaped like q).
     * Inputs and outputs may be of any storage; the heap holds what {@link #backwardHeapBytes} says.
     *
     * <p>For each query chunk (its q, dO, O and LSE copied onto the heap, D = rowsum(dO ∘ O)
     * computed) the key/value chunks it sees are loaded one by one with their running dK and dV,
     * read from {@code dk} and {@code dv}; a gradient step adds the chunk pair's terms to them and
     * to the query chunk's dQ, and they are written back. dQ of the chunk is complete after its
     * last key/value chunk, dK and dV after the last query chunk; the factor scale of dQ and dK is
     * applied once each sum is complete.
     *
     * <p><b>Same bits as {@link BlockwiseAttention#backward}</b> with the same block sizes, when
     * chunkQ is also a multiple of {@link Kernels#CHUNK} (checked here): every element is summed
     * in the whole-sequence order. dQ_i over the key blocks in increasing order (chunks in order,
     * blocks in order within each); dK_j and dV_j over the query heads of the group in increasing
     * order and, for each head, over the query blocks in increasing order: so with GQA the heads of
     * a group run one after the other (a pass per head of the group, each over all query chunks;
     * the key/value chunks are then read once per pass), not a chunk after the other with all
     * heads, which would interleave them. The running sums ({@link ChunkedSum}) fold at region
     * boundaries, and chunk boundaries are region boundaries on both sides; a sum carried through
     * {@code dk}, {@code dv} from one chunk pair to the next is folded first, so it is the floats
     * the whole-sequence sweep holds at that point.
     *
     * @param listener told of every query chunk of every pass ({@code chunkDone(pass·chunks + c,
     *     passes·chunks, pairs)}), every key/value chunk and every task; may be null
     * @throws Stopped when {@code stop} answers true (asked before every load and step); the
     *     outputs are then incomplete
     * @throws IllegalArgumentException for shapes that do not fit, a chunk that would change the
     *     bits, or a NaN or ±∞ in an input (named)
     */
    public Result backward(Tensor q, Tensor k, Tensor v, AttentionSpec spec, Tensor out, Tensor lse, Tensor dOut,
            Tensor dq, Tensor dk, Tensor dv, Listener listener, BooleanSupplier stop) {
        AttentionShape shape = AttentionShape.of(q, k, v);
        requireShaped(out, q, "O");
        requireShaped(dOut, q, "dO");
        requireShaped(dq, q, "dQ");
        requireShaped(dk, k, "dK");
        requireShaped(dv, v, "dV");
        if (lse.batch() != q.batch() || lse.heads() != q.heads() || lse.rows() != q.rows() || lse.dim() != 1) {
            throw new IllegalArgumentException("LSE " + lse.shape() + " does not fit q " + q.shape());
        }
        if (chunkQ % Kernels.CHUNK != 0) {
            throw new IllegalArgumentException("the query chunk of the backward pass (" + chunkQ + " rows) must be a"
                    + " multiple of " + Kernels.CHUNK + " (dK and dV are summed in regions of " + Kernels.CHUNK
                    + " queries)");
        }
        ShardAttention sa = new ShardAttention(kernels, shape, spec, blockQ, blockKv);
        sa.stopWhen(stop);
        int[][] visible = visibleChunks(shape, spec);
        ShardAttention.Workspace[] ws = workspaces(sa);
        TaskScheduler<ShardAttention.Workspace> scheduler = new TaskScheduler<>(ws);
        int kvRows = Math.min(chunkKv, shape.kvLen());
        KvShard kv = sa.kvBuffer(kvRows, true);
        int b = shape.batch();
        int hq = shape.qHeads();
        int hkv = shape.kvHeads();
        int d = shape.dim();
        int group = shape.group();
        int qChunks = queryChunks(shape.qLen());
        float[] rowsBuf = new float[kvRows * d];
        forEachKvRows(shape, kvRows, (t, bb, g, j0, cols) -> t.rows(bb, g, j0, cols).copyFrom(rowsBuf, 0), dk, dv);
        long pairs = 0;
        long loads = 0;
        for (int pass = 0; pass < group; pass++) {
            int loadedChunk = -1;
            for (int qc = 0; qc < qChunks; qc++) {
                int i0 = qc * chunkQ;
                int rows = Math.min(chunkQ, shape.qLen() - i0);
                Tensor qChunk = Tensor.zeros(b, hq, rows, d);
                Tensor oChunk = Tensor.zeros(b, hq, rows, d);
                Tensor dChunk = Tensor.zeros(b, hq, rows, d);
                float[] lseChunk = new float[b * hq * rows];
                for (int bb = 0; bb < b; bb++) {
                    for (int h = pass; h < hq; h += group) { // the heads of this pass; the others stay zero
                        int off = (int) qChunk.rowOffset(bb, h, 0);
                        q.rows(bb, h, i0, rows).copyTo(qChunk.heapArray(), off);
                        out.rows(bb, h, i0, rows).copyTo(oChunk.heapArray(), off);
                        dOut.rows(bb, h, i0, rows).copyTo(dChunk.heapArray(), off);
                        lse.rows(bb, h, i0, rows).copyTo(lseChunk, (bb * hq + h) * rows);
                        try {
                            sa.requireFinite(dChunk.heapArray(), off, rows * d, "dO");
                        } catch (NonFiniteInput e) {
                            throw named(e, dOut, null, "dO", null, i0, rows);
                        }
                    }
                }
                QueryShard qs = sa.queryShard(qc, qChunk, Positions.range(i0, rows), oChunk, lseChunk);
                RowStatistics stats = sa.rowStatistics(qs, dChunk);
                scheduler.runAll(stats); // D = rowsum(dO ∘ O)
                long chunkPairs = 0;
                for (int kc : visible[qc]) {
                    checkStop(stop);
                    int j0 = kc * chunkKv;
                    int cols = Math.min(chunkKv, shape.kvLen() - j0);
                    if (kc != loadedChunk) { // else K, V and the running dK, dV are still in the buffer
                        loadedChunk = -1;
                        try {
                            scheduler.runAll(sa.keyValueLoad(kv, kc, k, v, Positions.range(j0, cols)));
                        } catch (NonFiniteInput e) {
                            throw named(e, k, v, "k", "v", j0, cols);
                        }
                        for (int bb = 0; bb < b; bb++) {
                            for (int g = 0; g < hkv; g++) {
                                dk.rows(bb, g, j0, cols).copyTo(kv.dk, kv.offset(bb, g, 0));
                                dv.rows(bb, g, j0, cols).copyTo(kv.dv, kv.offset(bb, g, 0));
                            }
                        }
                        loadedChunk = kc;
                        loads++;
                    }
                    checkStop(stop);
                    Tasks<ShardAttention.Workspace> step = sa.gradientStep(stats, kv, group == 1 ? -1 : pass);
                    try {
                        chunkPairs += runReporting(scheduler, step, listener);
                    } catch (RuntimeException e) {
                        loadedChunk = -1; // the buffer's sums are incomplete
                        throw e;
                    }
                    for (int bb = 0; bb < b; bb++) {
                        for (int g = 0; g < hkv; g++) {
                            dk.rows(bb, g, j0, cols).copyFrom(kv.dk, kv.offset(bb, g, 0));
                            dv.rows(bb, g, j0, cols).copyFrom(kv.dv, kv.offset(bb, g, 0));
                        }
                    }
                    if (listener != null) {
                        listener.kvChunkDone(qc);
                    }
                }
                sa.finishQueryGradients(qs);
                float[] g = qs.grads.dq;
                for (int bb = 0; bb < b; bb++) {
                    for (int h = pass; h < hq; h += group) {
                        dq.rows(bb, h, i0, rows).copyFrom(g, (bb * hq + h) * rows * d);
                    }
                }
                pairs += chunkPairs;
                if (listener != null) {
                    listener.chunkDone(pass * qChunks + qc, group * qChunks, chunkPairs);
                }
            }
        }
        checkStop(stop);
        // dK = scale · (its sum) once every sum is complete, as ShardAttention.finishKeyValueGradients does
        forEachKvRows(shape, kvRows, (t, bb, g, j0, cols) -> {
            t.rows(bb, g, j0, cols).copyTo(rowsBuf, 0);
            for (int i = 0; i < cols * d; i++) {
                rowsBuf[i] *= sa.scale;
            }
            t.rows(bb, g, j0, cols).copyFrom(rowsBuf, 0);
        }, dk);
        return result(ws, group * qChunks, pairs, loads);
    }

    /** What {@link #forEachKvRows} does with rows [j0, j0 + cols) of head (b, g) of a key-shaped tensor. */
    @FunctionalInterface
    private interface KvRowsAction {
        void apply(Tensor t, int b, int g, int j0, int cols);
    }

    /** Applies {@code action} to every head of every tensor in runs of at most {@code step} rows. */
    private static void forEachKvRows(AttentionShape shape, int step, KvRowsAction action, Tensor... tensors) {
        for (Tensor t : tensors) {
            for (int bb = 0; bb < shape.batch(); bb++) {
                for (int g = 0; g < shape.kvHeads(); g++) {
                    for (int j0 = 0; j0 < shape.kvLen(); j0 += step) {
                        action.apply(t, bb, g, j0, Math.min(step, shape.kvLen() - j0));
                    }
                }
            }
        }
    }

    private static void requireShaped(Tensor t, Tensor like, String name) {
        if (t.batch() != like.batch() || t.heads() != like.heads() || t.rows() != like.rows()
                || t.dim() != like.dim()) {
            throw new IllegalArgumentException(name + " " + t.shape() + " does not have the shape " + like.shape());
        }
    }

    /** One workspace per thread, for chunks of these sizes. */
    private ShardAttention.Workspace[] workspaces(ShardAttention sa) {
        ShardAttention.Workspace[] ws = new ShardAttention.Workspace[threads];
        for (int t = 0; t < threads; t++) {
            ws[t] = sa.workspace(chunkQ, chunkKv);
        }
        return ws;
    }

    /** What a run did, with the tiles its workspaces counted. */
    private static Result result(ShardAttention.Workspace[] ws, int chunks, long pairs, long loads) {
        long computed = 0;
        long skipped = 0;
        for (ShardAttention.Workspace w : ws) {
            computed += w.tilesComputed();
            skipped += w.tilesSkipped();
        }
        return new Result(chunks, pairs, computed, skipped, loads);
    }

    /** Runs {@code step}'s tasks, telling {@code listener} (if any) of each task's pairs; returns their sum. */
    private static long runReporting(TaskScheduler<ShardAttention.Workspace> scheduler,
            Tasks<ShardAttention.Workspace> step, Listener listener) {
        return scheduler.runAll(Tasks.of(step.count(), (w, task) -> {
            long p = step.run(w, task);
            if (listener != null) {
                listener.pairsDone(p);
            }
            return p;
        }));
    }

    private static void checkStop(BooleanSupplier stop) {
        if (stop != null && stop.getAsBoolean()) {
            throw new Stopped();
        }
    }

    /** The first non-finite element of rows [from, from + count) of {@code a} (then {@code b}), named. */
    private static IllegalArgumentException named(NonFiniteInput e, Tensor a, Tensor b, String an, String bn,
            int from, int count) {
        for (Tensor t : b == null ? new Tensor[] {a} : new Tensor[] {a, b}) {
            for (int bb = 0; bb < t.batch(); bb++) {
                for (int h = 0; h < t.heads(); h++) {
                    long start = t.rowOffset(bb, h, from);
                    long i = t.firstNonFinite(start, start + (long) count * t.dim());
                    if (i >= 0) {
                        String name = t == a ? an : bn;
                        return new IllegalArgumentException(name + " contains a non-finite value at "
                                + t.indexString(i) + " (inputs must be finite)");
                    }
                }
            }
        }
        return new IllegalArgumentException("a non-finite input in " + an + (bn == null ? "" : " or " + bn), e);
    }

    /**
     * Bytes of heap {@link #backward} needs besides the inputs and outputs: one query chunk (q, O,
     * dO, dQ and its open part; LSE, D), one backward key/value chunk (K packed, V packed, dK, dV,
     * K as rows), a buffer of key rows, and per thread a workspace and D's two row copies.
     */
    public static long backwardHeapBytes(AttentionShape shape, int chunkQ, int chunkKv, int blockQ, int blockKv,
            int threads) {
        long qRows = Math.min(chunkQ, shape.qLen());
        long kvRows = Math.min(chunkKv, shape.kvLen());
        long perQ = (long) shape.batch() * shape.qHeads() * shape.dim();
        long perKv = (long) shape.batch() * shape.kvHeads() * shape.dim();
        long floats = qRows * (5 * perQ + 2L * shape.batch() * shape.qHeads())
                + 5 * kvRows * perKv + kvRows * shape.dim()
                + threads * (3L * blockQ * shape.dim() + 2L * blockQ * blockKv + 4L * blockKv * shape.dim()
                        + 2L * blockQ * (shape.dim() + 1) + 2L * qRows * shape.dim());
        return floats * Float.BYTES;
    }

    /** Bytes of heap a run needs besides the inputs and outputs: one query chunk, one key/value chunk, the workspaces. */
    public static long heapBytes(AttentionShape shape, int chunkQ, int chunkKv, int blockQ, int blockKv, int threads) {
        long qRows = Math.min(chunkQ, shape.qLen());
        long kvRows = Math.min(chunkKv, shape.kvLen());
        long perQ = (long) shape.batch() * shape.qHeads() * shape.dim();
        long perKv = (long) shape.batch() * shape.kvHeads() * shape.dim();
        long floats = qRows * (4 * perQ + 4L * shape.batch() * shape.qHeads()) // q, O, õ, a spare copy; m, l, LSE
                + 2 * kvRows * perKv // K packed, V
                + threads * (3L * blockQ * shape.dim() + 2L * blockQ * blockKv + 4L * blockKv * shape.dim()
                        + 2L * blockQ * (shape.dim() + 1));
        return floats * Float.BYTES;
    }
}
