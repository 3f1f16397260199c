package org.ringattention.ring;

import org.ringattention.attention.Positions;
import org.ringattention.tensor.Tensor;

/** Copies rows between a whole sequence and a shard of it: what a host does before and after a run. */
final class Shards {

    private Shards() {
    }

    /** The rows of {@code x} [B, H, N, d] at {@code positions}, as a new [B, H, n, d] tensor. */
    static Tensor gather(Tensor x, Positions positions) {
        int n = positions.length();
        float[] shard = new float[Math.toIntExact((long) x.batch() * x.heads() * n * x.dim())];
        for (int b = 0; b < x.batch(); b++) {
            for (int h = 0; h < x.heads(); h++) {
                positions.gather(x, b, h, shard, (b * x.heads() + h) * n * x.dim());
            }
        }
        return Tensor.wrap(shard, x.batch(), x.heads(), n, x.dim());
    }

    /** Writes the rows of {@code shard} [B, H, n, d] to {@code x} [B, H, N, d] at {@code positions}. */
    static void scatter(Tensor shard, Positions positions, Tensor x) {
        int n = positions.length();
        float[] rows = new float[n * x.dim()];
        for (int b = 0; b < x.batch(); b++) {
            for (int h = 0; h < x.heads(); h++) {
                shard.rows(b, h, 0, n).copyTo(rows, 0);
                positions.scatter(rows, 0, x, b, h);
            }
        }
    }

    /** The values at {@code positions} of per-row values {@code x} [B·H, N], as [B·H, n]. */
    static float[] gatherRows(float[] x, Positions positions, int length) {
        int n = positions.length();
        int heads = x.length / length;
        float[] shard = new float[heads * n];
        for (int bh = 0; bh < heads; bh++) {
            for (int r = 0; r < n; r++) {
                shard[bh * n + r] = x[bh * length + positions.at(r)];
            }
        }
        return shard;
    }

    /** The same for per-row values [B·H, n] into [B·H, N]. */
    static void scatterRows(float[] shard, Positions positions, float[] x, int length) {
        int n = positions.length();
        int heads = n == 0 ? 0 : shard.length / n;
        for (int bh = 0; bh < heads; bh++) {
            for (int r = 0; r < n; r++) {
                x[bh * length + positions.at(r)] = shard[bh * n + r];
            }
        }
    }
}
