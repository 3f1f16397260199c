package org.ringattention.attention;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;

/**
 * A key/value shard as it travels around a ring: a buffer with room for {@code capacity} rows per
 * head, holding one shard at a time.
 *
 * <p>Layout, for a shard of n rows cut into blocks of {@link #blockCols} rows: every array is
 * [B, Hkv, n, d] by blocks, block j0 of head (b, g) starting at ((b·Hkv + g)·n + j0)·d. K is
 * stored block by block transposed (d × cols), as the score kernel reads it, so it is packed once
 * by its owner and never again. V is stored as rows in the forward pass (P·V reads rows) and
 * transposed like K in the backward pass (dP = dO·Vᵀ reads it like K). In the backward pass the
 * shard also carries its running dK and dV sums (rows), which travel with K and V and are back
 * with the owner after a full turn.
 */
public final class KvShard {

    final int batch;
    final int heads;
    final int dim;
    final int capacity;
    final boolean backward;
    final float[] k;
    final float[] v;
    final float[] dk;
    final float[] dv;
    private float[] keyRows; // K as rows in the backward pass, see keyRows(b, g)
    private boolean[] keyRowsValid; // per head
    int owner = -1;
    Positions positions;
    int length;
    int blockCols;

    KvShard(int batch, int heads, int capacity, int dim, boolean backward) {
        this.batch = batch;
        this.heads = heads;
        this.dim = dim;
        this.capacity = capacity;
        this.backward = backward;
        int size = Math.toIntExact((long) batch * heads * capacity * dim);
        k = new float[size];
        v = new float[size];
        dk = backward ? new float[size] : null;
        dv = backward ? new float[size] : null;
    }

    /** The device (or shard number) this shard belongs to; −1 while empty. */
    public int owner() {
        return owner;
    }

    /** Bytes of K and V of the shard held now: what a link carries before the gradients. */
    public long keyValueBytes() {
        return 2L * used() * Float.BYTES;
    }

    /** Bytes of dK and dV of the shard held now (0 in the forward pass). */
    public long gradientBytes() {
        return backward ? 2L * used() * Float.BYTES : 0;
    }

    /** True for a buffer of the backward pass, which carries dK and dV with K and V. */
    public boolean backward() {
        return backward;
    }

    /** Rows per head of the shard held now. */
    public int length() {
        return length;
    }

    /** Columns of the blocks K (and, backward, V) are packed in. */
    public int blockCols() {
        return blockCols;
    }

    /** Floats this buffer has room for in each of K, V (dK, dV). */
    public long capacityFloats() {
        return k.length;
    }

    /** Floats of K (as of V, dK and dV) of the shard held now. */
    public long keyValueFloats() {
        return used();
    }

    /**
     * Copies K then V of the shard held now, {@link #keyValueFloats} floats each, to {@code dst}
     * from byte {@code offset}, in native order: what a link sends when it cannot copy buffer to buffer.
     */
    public void writeKeysValues(MemorySegment dst, long offset) {
        int n = used();
        MemorySegment.copy(k, 0, dst, ValueLayout.JAVA_FLOAT, offset, n);
        MemorySegment.copy(v, 0, dst, ValueLayout.JAVA_FLOAT, offset + (long) n * Float.BYTES, n);
    }

    /**
     * The inverse of {@link #writeKeysValues}: this buffer now holds the shard of {@code owner} at
     * {@code positions}, {@code length} rows per head packed in blocks of {@code blockCols}.
     */
    public void readKeysValues(MemorySegment src, long offset, int owner, Positions positions, int length,
            int blockCols) {
        if (length != positions.length() || length > capacity || blockCols < 1) {
            throw new IllegalArgumentException("shard of " + length + " rows (blocks of " + blockCols
                    + ") does not fit its " + positions.length() + " positions or a buffer of " + capacity);
        }
        changed();
        this.owner = owner;
        this.positions = positions;
        this.length = length;
        this.blockCols = blockCols;
        int n = used();
        MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, offset, k, 0, n);
        MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, offset + (long) n * Float.BYTES, v, 0, n);
    }

    /** Copies dK then dV of the shard held now to {@code dst} from byte {@code offset} (backward pass). */
    public void writeGradients(MemorySegment dst, long offset) {
        int n = used();
        MemorySegment.copy(dk, 0, dst, ValueLayout.JAVA_FLOAT, offset, n);
        MemorySegment.copy(dv, 0, dst, ValueLayout.JAVA_FLOAT, offset + (long) n * Float.BYTES, n);
    }

    /** The inverse of {@link #writeGradients}, after {@link #readKeysValues} of the same shard. */
    public void readGradients(MemorySegment src, long offset) {
        int n = used();
        MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, offset, dk, 0, n);
        MemorySegment.copy(src, ValueLayout.JAVA_FLOAT, offset + (long) n * Float.BYTES, dv, 0, n);
    }

    /** Bytes of this buffer's arrays, used or not. */
    public long bytes() {
        return ((backward ? 4L : 2L) * k.length + (keyRows == null ? 0 : keyRows.length)) * Float.BYTES;
    }

    /** Copies K, V and what describes them from {@code src}: the first half of a transfer. */
    public void copyKeysValuesFrom(KvShard src) {
        requireCompatible(src);
        int n = src.used();
        changed();
        System.arraycopy(src.k, 0, k, 0, n);
        System.arraycopy(src.v, 0, v, 0, n);
        owner = src.owner;
        positions = src.positions;
        length = src.length;
        blockCols = src.blockCols;
    }

    /** Copies the running dK and dV from {@code src}: the second half of a transfer. */
    public void copyGradientsFrom(KvShard src) {
        requireCompatible(src);
        if (backward) {
            int n = src.used();
            System.arraycopy(src.dk, 0, dk, 0, n);
            System.arraycopy(src.dv, 0, dv, 0, n);
        }
    }

    /** dK of the shard held now, [B, Hkv, n, d] (after {@link ShardAttention#finishKeyValueGradients}). */
    public float[] dkRows() {
        return Arrays.copyOf(dk, used());
    }

    /** dV of the shard held now, [B, Hkv, n, d]. */
    public float[] dvRows() {
        return Arrays.copyOf(dv, used());
    }

    /** Marks the content as replaced: K as rows must be unpacked anew. */
    synchronized void changed() {
        if (keyRowsValid != null) {
            Arrays.fill(keyRowsValid, false);
        }
    }

    /**
     * The array for K as rows, for a load to write head {@code head} (b·Hkv + g) into at
     * {@code offset(b, g, 0)}: the load has the rows at hand, so no task need unpack them.
     */
    synchronized float[] keyRowsToFill(int head) {
        float[] rows = keyRowsArray();
        keyRowsValid[head] = true; // written before any task reads it: tasks start after the load
        return rows;
    }

    /**
     * K of head (b, g) of the shard held now as rows [n, d] from {@code offset(b, g, 0)} (dQ += dS K
     * reads K by rows): written by the load, or after a transfer unpacked from the transposed
     * blocks by the first task of the head that asks; the link does not carry it.
     */
    synchronized float[] keyRows(int b, int g) {
        float[] rows = keyRowsArray();
        int head = b * heads + g;
        if (!keyRowsValid[head]) {
            for (int j0 = 0; j0 < length; j0 += blockCols) {
                int cols = Math.min(blockCols, length - j0);
                int off = offset(b, g, j0);
                for (int x = 0; x < dim; x++) {
                    for (int c = 0; c < cols; c++) {
                        rows[off + c * dim + x] = k[off + x * cols + c];
                    }
                }
            }
            keyRowsValid[head] = true;
        }
        return rows;
    }

    private float[] keyRowsArray() {
        if (keyRows == null) {
            keyRows = new float[k.length];
            keyRowsValid = new boolean[batch * heads];
        }
        return keyRows;
    }

    int used() {
        return batch * heads * length * dim;
    }

    /** Where block j0 of head (b, g) starts in every array. */
    int offset(int b, int g, int j0) {
        return ((b * heads + g) * length + j0) * dim;
    }

    private void requireCompatible(KvShard src) {
        if (src.backward != backward || src.batch != batch || src.heads != heads || src.dim != dim
                || src.length > capacity) {
            throw new IllegalArgumentException("shard of " + src.length + " rows does not fit a buffer of "
                    + capacity);
        }
    }
}
