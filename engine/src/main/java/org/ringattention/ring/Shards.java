package org.ringattention.ring;

import org.ringattention.attention.Positions;
import org.ringattention.tensor.Tensor;

/**
 * Copies rows between a whole sequence and a shard of it: what a host does before and after a run.
 * Rows at consecutive positions are copied as one run (a contiguous or zigzag shard is one or two
 * runs per head).
 */
final class Shards {

    private Shards() {
    }

    /** The rows of {@code x} [B, H, N, d] at {@code positions}, as a new [B, H, n, d] tensor. */
    static Tensor gather(Tensor x, Positions positions) {
        Tensor shard = Tensor.zeros(x.batch(), x.heads(), positions.length(), x.dim());
        copyRuns(x, shard, positions, true);
        return shard;
    }

    /** Writes the rows of {@code shard} [B, H, n, d] to {@code x} [B, H, N, d] at {@code positions}. */
    static void scatter(Tensor shard, Positions positions, Tensor x) {
        copyRuns(x, shard, positions, false);
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

    private static void copyRuns(Tensor whole, Tensor shard, Positions positions, boolean toShard) {
        int n = positions.length();
        float[] buf = new float[0];
        for (int r = 0; r < n; ) {
            int run = 1;
            while (r + run < n && positions.at(r + run) == positions.at(r) + run) {
                run++;
            }
            int len = run * whole.dim();
            if (buf.length < len) {
                buf = new float[len];
            }
            for (int b = 0; b < whole.batch(); b++) {
                for (int h = 0; h < whole.heads(); h++) {
                    if (toShard) {
                        whole.rows(b, h, positions.at(r), run).copyTo(buf, 0);
                        shard.rows(b, h, r, run).copyFrom(buf, 0);
                    } else {
                        shard.rows(b, h, r, run).copyTo(buf, 0);
                        whole.rows(b, h, positions.at(r), run).copyFrom(buf, 0);
                    }
                }
            }
            r += run;
        }
    }
}
