package org.ringattention.attention;

import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * dQ of a query shard, [B, Hq, n, d] row-major, summed by the key/value tasks of the backward pass
 * in turns: the dQ_i of every query block receives the terms dS_ij K_j of the key blocks j = 0, 1,
 * 2, … of a key/value shard in that order, whichever worker runs which task. So dQ is bit-identical
 * for any number of threads, and each dQ_i, a {@link ChunkedSum} that keeps its open region from
 * one task to the next, is the same sum a single task per query block would form.
 *
 * <p><b>Turns.</b> Slot s, one query block of one head, holds the key block whose turn it is. A
 * task computes a tile's P, dS, dV and dK first and waits only to add its one product to dQ_i; it
 * then passes the turn on (back to 0 after the shard's last key block, which also folds the sum:
 * the next shard's tasks start after all of these have ended). Workers start tasks in increasing
 * order, so the task whose turn a slot waits for has started and never waits for a later one: the
 * lowest running task always proceeds. A task whose turn has not come keeps a few products
 * aside ({@link PendingQueryTerms}) and adds them when it has, so that neighbouring tasks need not
 * run in lockstep.
 *
 * <p>A task that fails, or a ring that stops, {@link #abandon}s the turns: waiting tasks then throw
 * instead of waiting for a turn that will not come.
 */
final class QueryGradients {

    /** Busy-waits this many times before yielding the core (the turn is normally a product away). */
    private static final int SPINS = 1 << 10;

    final float[] dq;
    private final int blockRows;
    private final int perHead;
    private final ChunkedSum[] blocks; // by slot
    private final AtomicIntegerArray turn;
    private volatile boolean abandoned;

    /** Zero dQ for {@code heads} (B·Hq) heads of {@code length} rows of {@code dim}, in blocks of {@code blockRows}. */
    QueryGradients(int heads, int length, int blockRows, int dim) {
        dq = new float[heads * length * dim];
        float[] part = new float[dq.length];
        this.blockRows = blockRows;
        this.perHead = (length + blockRows - 1) / blockRows;
        blocks = new ChunkedSum[heads * perHead];
        for (int head = 0; head < heads; head++) {
            for (int i = 0; i < perHead; i++) {
                int i0 = i * blockRows;
                int rows = Math.min(blockRows, length - i0);
                blocks[slot(head, i0)] = new ChunkedSum(dq, part, (head * length + i0) * dim, rows * dim);
            }
        }
        turn = new AtomicIntegerArray(blocks.length);
    }

    /** The slot of the query block from row {@code i0} of head {@code head} (b·Hq + h). */
    int slot(int head, int i0) {
        return head * perHead + i0 / blockRows;
    }

    /** Waits until it is key block {@code keyBlock}'s turn at {@code slot}, and returns the slot's sum. */
    ChunkedSum awaitTurn(int slot, int keyBlock) {
        int spins = 0;
        while (turn.getAcquire(slot) != keyBlock) {
            if (abandoned) {
                throw new CancellationException("another task of this backward pass stopped before adding to dQ");
            }
            if (++spins < SPINS) {
                Thread.onSpinWait();
            } else {
                Thread.yield(); // the task whose turn it is may be waiting for this core
            }
        }
        return blocks[slot];
    }

    /** Whether it is key block {@code keyBlock}'s turn at {@code slot} now. */
    boolean isTurn(int slot, int keyBlock) {
        return turn.getAcquire(slot) == keyBlock;
    }

    /** The sum of {@code slot}, to be added to only in a turn. */
    ChunkedSum sum(int slot) {
        return blocks[slot];
    }

    /** Ends key block {@code keyBlock}'s turn at {@code slot}; after the shard's {@code last} block, folds the sum. */
    void pass(int slot, int keyBlock, boolean last) {
        if (last) {
            blocks[slot].fold();
        }
        turn.setRelease(slot, last ? 0 : keyBlock + 1);
    }

    /** Makes tasks waiting for a turn throw. */
    void abandon() {
        abandoned = true;
    }

    /** Floats of the arrays: dQ and the open parts of its sums. */
    long floats() {
        return 2L * dq.length;
    }
}
