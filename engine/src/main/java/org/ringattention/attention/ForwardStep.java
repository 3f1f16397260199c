package org.ringattention.attention;

import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.Tasks;

/**
 * One forward step of a query shard: absorbing one key/value shard into the running
 * online-softmax state of its rows (the formulas are in {@link ShardAttention}), as tasks.
 *
 * <p><b>Units and tasks.</b> A unit is one query block of one head. Units are ordered by batch
 * and key/value head, then by query block from the last (under a causal mask the heaviest come
 * first), then by query head within the key/value head's group. A task takes up to {@link #GROUP}
 * consecutive units of the same key/value head and runs them together over each key block in
 * turn, so that a key/value block, loaded for the first unit's tile, is still in cache for the
 * others' (the query heads of a GQA group, or neighbouring query blocks of one head). The last
 * eighth of the units run alone, and the last {@link #SPLIT_BLOCKS} of them as two tasks each,
 * one per half of their rows.
 *
 * <p>A task owns its rows: it loads their state (m, l, õ) from the {@link QueryShard} (or starts
 * it, at the {@code first} step), absorbs the shard's key blocks in increasing order, and stores
 * the state back (or, at the {@code last} step, writes O and LSE). Every row absorbs the same
 * tiles in the same order whatever its task, and no two tasks touch the same row, so neither the
 * grouping nor the order in which tasks run changes a bit.
 */
final class ForwardStep implements Tasks<ShardAttention.Workspace> {

    /** The most units in one task (the workspace holds a query block and a state per unit). */
    static final int GROUP = 4;

    /**
     * Bytes of the grouped units' queries and states (3 floats per row and dimension: q, and õ as
     * a {@link ChunkedSum}) that a task may hold: with a key/value block and the score tile they
     * stay within a 1 MB L2.
     */
    private static final int STATE_BYTES = 512 * 1024;

    /**
     * The last units of a pass run as two tasks each, one per half of their rows, so that
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
    private final int units;
    private final int group; // units per task, at most GROUP
    private final int runUnits; // units of one key/value head: qBlocks · (query heads per key/value head)
    private final int groupedUnits; // the units run in groups; the rest run alone
    private final int groupsPerRun;
    private final int groups;

    ForwardStep(ShardAttention sa, QueryShard qs, KvShard kv, boolean first, boolean last) {
        this.sa = sa;
        this.kernels = sa.kernels;
        this.qs = qs;
        this.kv = kv;
        this.mask = sa.mask.forShards(qs.positions, kv.positions);
        this.first = first;
        this.last = last;
        this.qBlocks = ShardAttention.blocks(qs.length, qs.blockRows);
        this.units = sa.shape.batch() * sa.shape.qHeads() * qBlocks;
        this.group = group(sa.blockQ, sa.shape.dim()); // at most the workspace's, whose blocks are at most blockQ rows
        this.runUnits = qBlocks * sa.shape.group();
        this.groupedUnits = units - singleUnits(units);
        this.groupsPerRun = ShardAttention.blocks(runUnits, group);
        int fullRuns = runUnits == 0 ? 0 : groupedUnits / runUnits; // a shard without queries has no units
        this.groups = fullRuns * groupsPerRun + ShardAttention.blocks(groupedUnits - fullRuns * runUnits, group);
    }

    /** Units per task for query blocks of {@code blockRows} rows and head dimension {@code dim}. */
    static int group(int blockRows, int dim) {
        long fit = STATE_BYTES / (3L * Float.BYTES * blockRows * dim);
        return (int) Math.max(1, Math.min(GROUP, fit));
    }

    /** One task per group of units, one per single unit, two for each of the last units. */
    @Override
    public int count() {
        return groups + singleUnits(units) + splitUnits(units);
    }

    /**
     * The units that run alone at the end (an eighth, at least the split ones), so that tasks get
     * smaller towards the end of the step and the workers finish together.
     */
    private static int singleUnits(int units) {
        return Math.min(units, Math.max(SPLIT_BLOCKS, units / 8));
    }

    private static int splitUnits(int units) {
        return Math.min(SPLIT_BLOCKS, units);
    }

    /**
     * Absorbs the shard into the running state of task {@code task}'s rows; returns the number of
     * query-key pairs computed (skipped tiles not counted). Throws {@link NonFiniteInput} when the
     * task's queries hold NaN or ±∞.
     */
    @Override
    public long run(ShardAttention.Workspace w, int task) {
        int singles = singleUnits(units) - splitUnits(units);
        if (task >= groups) {
            QueryBlock blk = task >= groups + singles ? splitHalf(task - groups - singles)
                    : unit(groupedUnits + task - groups);
            if (blk.rows == 0) {
                return 0; // the empty second half of a block of one to three rows
            }
            w.groupBlocks[0] = blk;
            return runUnits(w, w.groupBlocks, 1);
        }
        int run = task / groupsPerRun;
        int start = run * runUnits + (task % groupsPerRun) * group;
        int end = Math.min(start + group, Math.min((run + 1) * runUnits, groupedUnits));
        QueryBlock[] members = w.groupBlocks;
        for (int u = start; u < end; u++) {
            members[u - start] = unit(u);
        }
        return runUnits(w, members, end - start);
    }

    /**
     * Runs units {@code members[0 .. count)} (query blocks of one key/value head, none empty) over
     * every key block.
     */
    private long runUnits(ShardAttention.Workspace w, QueryBlock[] members, int count) {
        int d = sa.shape.dim();
        for (int i = 0; i < count; i++) {
            QueryBlock blk = members[i];
            float[] q = w.groupQ[i];
            qs.q.rows(blk.b, blk.h, blk.i0, blk.rows).copyTo(q, 0);
            sa.requireFinite(q, 0, blk.rows * d, "q");
            if (first) {
                w.groupSoftmax[i].reset(blk.rows);
            } else {
                w.groupSoftmax[i].load(blk.rows, qs.max, qs.sum, qs.acc, blk.row);
            }
        }
        Mask m = mask;
        long pairs = 0;
        for (int j0 = 0; j0 < kv.length; j0 += kv.blockCols) {
            for (int i = 0; i < count; i++) {
                QueryBlock blk = members[i];
                sa.checkStop(); // before every tile, as a stop must be seen within one tile's time
                float[] q = w.groupQ[i];
                OnlineSoftmax sm = w.groupSoftmax[i];
                long tile = forwardTile(w, q, sm, m, blk, j0);
                pairs += tile;
                if (blk.countsTiles()) {
                    countTile(w, m, blk, j0, tile);
                }
            }
        }
        for (int i = 0; i < count; i++) {
            QueryBlock blk = members[i];
            OnlineSoftmax sm = w.groupSoftmax[i];
            if (last) {
                if (sa.mask.hasSinks()) {
                    sm.finish(w.o, qs.lse, blk.row, sa.mask.sink(blk.h));
                } else {
                    sm.finish(w.o, qs.lse, blk.row);
                }
                qs.out.rows(blk.b, blk.h, blk.i0, blk.rows).copyFrom(w.o, 0);
            } else {
                qs.ensureState();
                sm.store(qs.max, qs.sum, qs.acc, blk.row);
            }
        }
        return pairs;
    }

    /**
     * One tile of a forward task: the query block [i0, i0 + rows) of batch b against the key/value
     * block at j0 of its key/value head. A method of its own, called once per tile, so that C2
     * compiles the per-tile work within the first few passes: a task method runs only a few hundred
     * times per pass, and while the tile work sat in it, its C1 (profiling) code ran for many
     * passes (see docs/performance.md). When the score rule changes scores after the product (soft
     * cap, ALiBi), the kernel's row maxima are those of the products, so the softmax finds its own.
     */
    private long forwardTile(ShardAttention.Workspace w, float[] q, OnlineSoftmax sm, Mask m, QueryBlock blk, int j0) {
        int b = blk.b;
        int h = blk.h;
        int i0 = blk.i0;
        int rows = blk.rows;
        int cols = Math.min(kv.blockCols, kv.length - j0);
        Mask.Visibility vis = m.classify(b, h, i0, i0 + rows, j0, j0 + cols);
        if (vis == Mask.Visibility.HIDDEN) {
            return 0;
        }
        int off = kv.offset(b, sa.shape.kvHead(h), j0);
        boolean adjusts = m.adjustsScores();
        float[] rowMax = !adjusts && vis == Mask.Visibility.FULL ? w.rowMax : null;
        kernels.scoreTile(q, 0, rows, kv.k, off, cols, sa.shape.dim(), sa.scale, w.s, rowMax);
        if (adjusts) {
            m.adjust(b, h, i0, rows, j0, cols, w.s, null);
        }
        if (vis == Mask.Visibility.PARTIAL) {
            m.apply(b, h, i0, rows, j0, cols, w.s);
        }
        sm.absorb(w.s, kv.owner, j0, cols, kv.length, kv.v, off, kernels, rowMax);
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
    record QueryBlock(int b, int h, int i0, int rows, int row, int blockI0, int blockRows) {

        /** Whether tiles are counted for these rows: a whole block or a first half. */
        boolean countsTiles() {
            return i0 == blockI0;
        }
    }

    /** Unit {@code u} (see the class comment): a whole query block of one head. */
    private QueryBlock unit(int u) {
        AttentionShape shape = sa.shape;
        int perKv = shape.group();
        int run = u / runUnits; // b · kvHeads + g
        int inRun = u % runUnits;
        int b = run / shape.kvHeads();
        int h = (run % shape.kvHeads()) * perKv + inRun % perKv;
        int i0 = (qBlocks - 1 - inRun / perKv) * qs.blockRows;
        int rows = Math.min(qs.blockRows, qs.length - i0);
        int row = (b * shape.qHeads() + h) * qs.length + i0;
        return new QueryBlock(b, h, i0, rows, row, i0, rows);
    }

    /**
     * Split task {@code t} (0-based among them): a half of one of the last units, the first half
     * a multiple of four rows (the score kernel's row group).
     */
    private QueryBlock splitHalf(int t) {
        QueryBlock whole = unit(units - splitUnits(units) + t / 2);
        int rows = whole.rows;
        int firstRows = Math.min(rows, Math.max(4, (rows / 2 + 3) / 4 * 4));
        return t % 2 == 0
                ? new QueryBlock(whole.b, whole.h, whole.i0, firstRows, whole.row, whole.i0, rows)
                : new QueryBlock(whole.b, whole.h, whole.i0 + firstRows, rows - firstRows, whole.row + firstRows,
                        whole.i0, rows);
    }
}
