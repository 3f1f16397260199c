package org.ringattention.model;

import java.util.Arrays;
import org.ringattention.attention.Positions;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * The keys and values of every layer, sharded over P devices: device i holds the rows of the
 * positions it was given at prefill (its ring shard) and of the tokens appended to it since.
 *
 * <p><b>Append rule.</b> A decoded token's K and V go to the device that holds the fewest tokens,
 * the lowest index among equals, so shards stay within one token of each other whatever the prefill
 * layout (after a prefill that split N tokens evenly, the tokens go round the devices in order).
 * Attention does not care which device holds a key: every cached key is visible to a new query.
 *
 * <p><b>Layout</b>, per device, layer and (batch row b, key/value head g): blocks of {@link #block()}
 * tokens, as {@link org.ringattention.attention.SoftmaxPartial#overBlocks} reads them. Keys of a
 * block are stored transposed, [d × block] (token c of the block in column c), the layout the score
 * kernel reads, so a step never re-packs the cache; values row-major [block × d]. Appending a token
 * writes one column and one row of the last block, or starts a new block: nothing already cached
 * is copied or moved, whatever the length.
 */
final class KvCache {

    /** Tokens per block by default: a multiple of {@link Kernels#CHUNK}, as the merge of blocks needs. */
    static final int BLOCK = 4 * Kernels.CHUNK;

    private final int layers;
    private final int heads; // B · Hkv
    private final int dim;
    private final int block;
    private final int[] length;
    private final float[][][][][] k; // [device][layer][b·Hkv + g][block] -> d × block, transposed
    private final float[][][][][] v; // [device][layer][b·Hkv + g][block] -> block × d

    KvCache(int devices, int layers, int batch, int kvHeads, int dim, int block) {
        if (block < 1 || block % Kernels.CHUNK != 0) {
            throw new IllegalArgumentException("cache blocks must be a positive multiple of " + Kernels.CHUNK
                    + " tokens, got " + block);
        }
        this.layers = layers;
        this.heads = batch * kvHeads;
        this.dim = dim;
        this.block = block;
        this.length = new int[devices];
        this.k = new float[devices][layers][heads][0][];
        this.v = new float[devices][layers][heads][0][];
    }

    int devices() {
        return length.length;
    }

    /** Tokens per block. */
    int block() {
        return block;
    }

    /** Tokens held by device {@code dev}. */
    int length(int dev) {
        return length[dev];
    }

    /** Tokens held by all devices. */
    int total() {
        int n = 0;
        for (int l : length) {
            n += l;
        }
        return n;
    }

    /** The key blocks of device {@code dev}, layer {@code layer}, head (b, g) = b·Hkv + g ([d × block] each). */
    float[][] keys(int dev, int layer, int head) {
        return k[dev][layer][head];
    }

    /** The value blocks ([block × d] each), as {@link #keys}. */
    float[][] values(int dev, int layer, int head) {
        return v[dev][layer][head];
    }

    /** Fills device {@code dev}'s rows of layer {@code layer} with the rows of k, v [B, Hkv, N, d] at {@code at}. */
    void fill(int dev, int layer, Tensor keys, Tensor values, Positions at) {
        int n = at.length();
        int blocks = (n + block - 1) / block;
        float[] kr = new float[Math.max(n, 1) * dim];
        float[] vr = new float[Math.max(n, 1) * dim];
        for (int bh = 0; bh < heads; bh++) {
            int b = bh / keys.heads();
            int g = bh % keys.heads();
            at.gather(keys, b, g, kr, 0);
            at.gather(values, b, g, vr, 0);
            float[][] kb = new float[blocks][];
            float[][] vb = new float[blocks][];
            for (int j = 0; j < blocks; j++) {
                int t0 = j * block;
                int rows = Math.min(block, n - t0);
                kb[j] = new float[dim * block];
                for (int c = 0; c < rows; c++) {
                    for (int x = 0; x < dim; x++) {
                        kb[j][x * block + c] = kr[(t0 + c) * dim + x];
                    }
                }
                vb[j] = new float[block * dim];
                System.arraycopy(vr, t0 * dim, vb[j], 0, rows * dim);
            }
            k[dev][layer][bh] = kb;
            v[dev][layer][bh] = vb;
        }
        length[dev] = n;
    }

    /** The device the next token's K and V go to (see the class comment). */
    int owner() {
        int best = 0;
        for (int i = 1; i < length.length; i++) {
            if (length[i] < length[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * Writes token {@code length(dev)} of device {@code dev}, layer {@code layer}: for each head
     * (b, g), d floats of k and v from {@code kRows}, {@code vRows} [B × Hkv·d]. The length grows
     * by {@link #commit} once every layer has its token.
     */
    void put(int dev, int layer, float[] kRows, float[] vRows) {
        int row = length[dev];
        int j = row / block;
        int c = row % block;
        for (int bh = 0; bh < heads; bh++) {
            float[][] kb = k[dev][layer][bh];
            float[][] vb = v[dev][layer][bh];
            if (j == kb.length) { // a new block; the array of block references grows, no block moves
                kb = Arrays.copyOf(kb, Math.max(2 * kb.length, 1));
                vb = Arrays.copyOf(vb, kb.length);
                k[dev][layer][bh] = kb;
                v[dev][layer][bh] = vb;
            }
            if (kb[j] == null) {
                kb[j] = new float[dim * block];
                vb[j] = new float[block * dim];
            }
            for (int x = 0; x < dim; x++) {
                kb[j][x * block + c] = kRows[bh * dim + x];
            }
            System.arraycopy(vRows, bh * dim, vb[j], c * dim, dim);
        }
    }

    /** Counts the token {@link #put} wrote to every layer of device {@code dev}. */
    void commit(int dev) {
        length[dev]++;
    }

    /** Bytes held by device {@code dev} (allocated blocks). */
    long bytes(int dev) {
        long b = 0;
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                for (float[] blk : k[dev][l][h]) {
                    b += blk == null ? 0 : 4L * blk.length;
                }
                for (float[] blk : v[dev][l][h]) {
                    b += blk == null ? 0 : 4L * blk.length;
                }
            }
        }
        return b;
    }
}
