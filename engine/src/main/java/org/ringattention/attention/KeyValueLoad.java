package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * The load of one key/value shard into a {@link KvShard} buffer, as tasks: task (b·Hkv + g) copies
 * head (b, g) of K and V at the shard's positions block by block, checks each block while it is
 * in cache and packs it as the kernels read it (K transposed per block; V as rows forward,
 * transposed backward, where K is kept as rows too). Creating the load describes the shard in the
 * buffer and, for the backward pass, zeroes its dK and dV, so the tasks only fill heads; no task
 * reads another's head. The buffer holds the shard once every task has run.
 */
final class KeyValueLoad implements Tasks<ShardAttention.Workspace> {

    private final ShardAttention sa;
    private final KvShard buffer;
    private final Tensor k;
    private final Tensor v;

    KeyValueLoad(ShardAttention sa, KvShard buffer, int owner, Tensor k, Tensor v, Positions positions) {
        int n = positions.length();
        if (n > buffer.capacity || v.rows() != k.rows()) {
            throw new IllegalArgumentException("key/value shard of " + n + " rows does not fit a buffer of "
                    + buffer.capacity + " rows, or v and k differ in length");
        }
        this.sa = sa;
        this.buffer = buffer;
        this.k = k;
        this.v = v;
        buffer.changed();
        buffer.owner = owner;
        buffer.positions = positions;
        buffer.length = n;
        buffer.blockCols = Math.max(1, Math.min(sa.blockKv, n));
        if (buffer.backward) {
            Arrays.fill(buffer.dk, 0, buffer.used(), 0f);
            Arrays.fill(buffer.dv, 0, buffer.used(), 0f);
        }
    }

    /** One task per key/value head, B·Hkv. */
    @Override
    public int count() {
        return sa.shape.batch() * sa.shape.kvHeads();
    }

    /**
     * Loads key/value head {@code head} (b·Hkv + g). Throws {@link NonFiniteInput} at the first
     * block holding NaN or ±∞.
     */
    @Override
    public long run(ShardAttention.Workspace unused, int head) {
        int b = head / sa.shape.kvHeads();
        int g = head % sa.shape.kvHeads();
        if (buffer.backward) { // the backward pass reads K as rows too
            loadBlocks(k, "k", b, g, buffer.keyRowsToFill(head), buffer.k);
            loadBlocks(v, "v", b, g, null, buffer.v);
        } else {
            loadBlocks(k, "k", b, g, null, buffer.k);
            loadBlocks(v, "v", b, g, buffer.v, null);
        }
        return 0;
    }

    /**
     * Copies head (b, g) of input {@code name}, {@code x}, at the shard's positions block by block,
     * checking each block: as rows into {@code rows} at the block's offset when it is not null, else
     * into one block of scratch (no copy of the whole head); and packed transposed into
     * {@code packed} when that is not null.
     */
    private void loadBlocks(Tensor x, String name, int b, int g, float[] rows, float[] packed) {
        int d = sa.shape.dim();
        float[] block = rows != null ? rows : new float[buffer.blockCols * d];
        for (int j0 = 0; j0 < buffer.length; j0 += buffer.blockCols) {
            sa.checkStop();
            int cols = Math.min(buffer.blockCols, buffer.length - j0);
            int off = buffer.offset(b, g, j0);
            int at = rows != null ? off : 0;
            buffer.positions.gather(x, b, g, j0, cols, block, at);
            sa.requireFinite(block, at, cols * d, name);
            if (packed != null) {
                sa.kernels.packTransposed(block, at, cols, d, packed, off);
            }
        }
    }
}
