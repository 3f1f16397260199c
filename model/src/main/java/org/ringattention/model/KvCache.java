package org.ringattention.model;

import java.util.Arrays;
import org.ringattention.attention.Positions;
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
 * <p>Layout per device, layer and (batch row b, key/value head g): rows [capacity × d], row-major,
 * the first {@link #length(int)} in use; arrays grow by doubling so an append does not repack.
 */
final class KvCache {

    private final int layers;
    private final int heads; // B · Hkv
    private final int dim;
    private final int[] length;
    private final float[][][][] k; // [device][layer][b·Hkv + g] -> rows
    private final float[][][][] v;

    KvCache(int devices, int layers, int batch, int kvHeads, int dim) {
        this.layers = layers;
        this.heads = batch * kvHeads;
        this.dim = dim;
        this.length = new int[devices];
        this.k = new float[devices][layers][heads][0];
        this.v = new float[devices][layers][heads][0];
    }

    int devices() {
        return length.length;
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

    float[] keys(int dev, int layer, int head) {
        return k[dev][layer][head];
    }

    float[] values(int dev, int layer, int head) {
        return v[dev][layer][head];
    }

    /** Fills device {@code dev}'s rows of layer {@code layer} with the rows of k, v [B, Hkv, N, d] at {@code at}. */
    void fill(int dev, int layer, Tensor keys, Tensor values, Positions at) {
        int n = at.length();
        for (int bh = 0; bh < heads; bh++) {
            int b = bh / keys.heads();
            int g = bh % keys.heads();
            float[] kr = new float[Math.max(n, 1) * dim];
            float[] vr = new float[Math.max(n, 1) * dim];
            at.gather(keys, b, g, kr, 0);
            at.gather(values, b, g, vr, 0);
            k[dev][layer][bh] = kr;
            v[dev][layer][bh] = vr;
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
     * Writes row {@code length(dev)} of device {@code dev}, layer {@code layer}: for each head
     * (b, g), d floats of k and v from {@code kRows}, {@code vRows} [B × Hkv·d]. The length grows
     * by {@link #commit} once every layer has its row.
     */
    void put(int dev, int layer, float[] kRows, float[] vRows) {
        int row = length[dev];
        for (int bh = 0; bh < heads; bh++) {
            if ((row + 1) * dim > k[dev][layer][bh].length) {
                int cap = Math.max(2 * (row + 1), 16) * dim;
                k[dev][layer][bh] = Arrays.copyOf(k[dev][layer][bh], cap);
                v[dev][layer][bh] = Arrays.copyOf(v[dev][layer][bh], cap);
            }
            System.arraycopy(kRows, bh * dim, k[dev][layer][bh], row * dim, dim);
            System.arraycopy(vRows, bh * dim, v[dev][layer][bh], row * dim, dim);
        }
    }

    /** Counts the row {@link #put} wrote to every layer of device {@code dev}. */
    void commit(int dev) {
        length[dev]++;
    }

    /** Bytes held by device {@code dev} (allocated capacity). */
    long bytes(int dev) {
        long b = 0;
        for (int l = 0; l < layers; l++) {
            for (int h = 0; h < heads; h++) {
                b += 4L * (k[dev][l][h].length + v[dev][l][h].length);
            }
        }
        return b;
    }
}
