package org.ringattention.attention;

import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.Tasks;

/**
 * One forward step of a query shard: absorbing one key/value shard into the running
 * online-softmax state of its rows (the formulas are in {@link ShardAttention}), as tasks.
 *
 * <p><b>Tasks.</b> One per head and query block, heads in order, each head's last block first (so
 * that under a causal mask the heaviest come first); the last {@link #SPLIT_BLOCKS} blocks of that
 * order as two tasks each, one per half of their rows. A task owns its rows: it loads their state
 * (m, l, õ) from the {@link QueryShard} (or starts it, at the {@code first} step), absorbs the
 * shard's key blocks in increasing order, and stores the state back (or, at the {@code last}
 * step, writes O and LSE). No two tasks touch the same row, so the order in which they run
 * changes no bit.
 */
final class ForwardStep implements Tasks<ShardAttention.Workspace> {

    /**
     * The last query blocks of a pass run as two tasks each, one per half of their rows, so that
     * the workers finish together. With tasks of equal size the worker that runs a little slower
     * took the last one, and the other waited for it (up to one whole task; see
     * docs/performance.md). Rows are independent, so the split changes no bits; tiles are still
     * counted per query block.
     */
    private static final int SPLIT_BLOCKS = 4;

    private final ShardAttention sa;
    private final Kernels kernels;
    private final QueryShard qs;
    private final KvShard kv;
    private final Mask mask; // of this pair of shards
    private final boolean first;
    private final boolean last;
    private final int qBlocks;
    private final int blocks;

    ForwardStep(ShardAttention sa, QueryShard qs, KvShard kv, boolean first, boolean last) {
        this.sa = sa;
        this.kernels = sa.kernels;
        this.qs = qs;
        this.kv = kv;
        this.mask = sa.mask.forShards(qs.positions, kv.positions);
        this.first = first;
        this.last = last;
        this.qBlocks = ShardAttention.blocks(qs.length, qs.blockRows);
        this.blocks = sa.shape.batch() * sa.shape.qHeads() * qBlocks;
    }

    /** One task per head and query block, two for each of the last blocks. */
    @Override
    public int count() {
        return blocks + splitBlocks(blocks);
    }

    private static int splitBlocks(int blocks) {
        return Math.min(SPLIT_BLOCKS, blocks);
    }

    /**
     * Absorbs the shard into the running state of task {@code task}'s rows; returns the number of
     * query-key pairs computed (skipped tiles not counted). Throws {@link NonFiniteInput} when the
     * task's queries hold NaN or ±∞.
     */
    @Override
    public long run(ShardAttention.Workspace w, int task) {
        QueryBlock blk = queryBlock(task);
        int b = blk.b;
        int h = blk.h;
        int i0 = blk.i0;
        int rows = blk.rows;
        int rowBase = blk.row;
        if (rows == 0) {
            return 0; // the empty second half of a block of one to three rows
        }
        AttentionShape shape = sa.shape;
        int g = shape.kvHead(h);
        Mask m = mask;
        qs.q.rows(b, h, i0, rows).copyTo(w.q, 0);
        sa.requireFinite(w.q, 0, rows * shape.dim(), "q");
        if (first) {
            w.softmax.reset(rows);
        } else {
            w.softmax.load(rows, qs.max, qs.sum, qs.acc, rowBase);
        }
        long pairs = 0;
        for (int j0 = 0; j0 < kv.length; j0 += kv.blockCols) {
            sa.checkStop();
            long tile = m.adjustsScores() ? adjustedForwardTile(w, m, b, h, i0, rows, j0)
                    : forwardTile(w, m, b, g, h, i0, rows, j0);
            pairs += tile;
            if (blk.countsTiles()) {
                countTile(w, m, blk, j0, tile);
            }
        }
        if (last) {
            if (sa.mask.hasSinks()) {
                w.softmax.finish(w.o, qs.lse, rowBase, sa.mask.sink(h));
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
     * per-tile work within the first few passes: a task method runs only a few hundred times per
     * pass, and while the tile work sat in it, its C1 (profiling) code ran for many passes (see
     * docs/performance.md).
     */
    private long forwardTile(ShardAttention.Workspace w, Mask m, int b, int g, int h, int i0, int rows, int j0) {
        int cols = Math.min(kv.blockCols, kv.length - j0);
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        int off = kv.offset(b, g, j0);
        boolean full = vis == Mask.Visibility.FULL;
        kernels.scoreTile(w.q, 0, rows, kv.k, off, cols, sa.shape.dim(), sa.scale, w.s, full ? w.rowMax : null);
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
    private long adjustedForwardTile(ShardAttention.Workspace w, Mask m, int b, int h, int i0, int rows, int j0) {
        int cols = Math.min(kv.blockCols, kv.length - j0);
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        int off = kv.offset(b, sa.shape.kvHead(h), j0);
        kernels.scoreTile(w.q, 0, rows, kv.k, off, cols, sa.shape.dim(), sa.scale, w.s, null);
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
    private void countTile(ShardAttention.Workspace w, Mask m, QueryBlock blk, int j0, long pairs) {
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
     * The rows of task {@code task} (see the class comment); the first half of a split block a
     * multiple of four rows (the score kernel's row group).
     */
    private QueryBlock queryBlock(int task) {
        AttentionShape shape = sa.shape;
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
        int firstRows = Math.min(rows, Math.max(4, (rows / 2 + 3) / 4 * 4));
        return (task - whole) % 2 == 0
                ? new QueryBlock(b, h, i0, firstRows, row, i0, rows)
                : new QueryBlock(b, h, i0 + firstRows, rows - firstRows, row + firstRows, i0, rows);
    }
}
