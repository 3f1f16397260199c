package org.ringattention.mpi;

import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.SegmentIds;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * One problem for the equivalence tests, written as one command-line token so that the test and
 * every rank build the same inputs from it: shape, mask, layout, block sizes, passes and seed.
 */
record RingCase(int batch, int qHeads, int kvHeads, int n, int dim, boolean causal, int window, boolean segments,
        Layout layout, int blockQ, int blockKv, boolean backward, long seed) {

    static RingCase parse(String token) {
        String[] f = token.split(",");
        return new RingCase(Integer.parseInt(f[0]), Integer.parseInt(f[1]), Integer.parseInt(f[2]),
                Integer.parseInt(f[3]), Integer.parseInt(f[4]), Boolean.parseBoolean(f[5]), Integer.parseInt(f[6]),
                Boolean.parseBoolean(f[7]), Layout.parse(f[8]), Integer.parseInt(f[9]), Integer.parseInt(f[10]),
                Boolean.parseBoolean(f[11]), Long.parseLong(f[12]));
    }

    String token() {
        return batch + "," + qHeads + "," + kvHeads + "," + n + "," + dim + "," + causal + "," + window + ","
                + segments + "," + layout + "," + blockQ + "," + blockKv + "," + backward + "," + seed;
    }

    AttentionSpec spec() {
        AttentionSpec s = AttentionSpec.DEFAULT.withCausal(causal).withWindow(window);
        if (segments) {
            long[] ids = new long[batch * n];
            for (int b = 0; b < batch; b++) {
                for (int i = 0; i < n; i++) {
                    ids[b * n + i] = (i * 3L / n + b) % 3; // three documents per row, shifted by batch
                }
            }
            s = s.withSegments(SegmentIds.of(ids, batch, n));
        }
        return s;
    }

    RingAttention ring(int devices, int threads) {
        return new RingAttention(Kernels.preferred(), blockQ, blockKv, threads, devices, layout, LinkModel.UNTHROTTLED);
    }

    Tensor q() {
        return random(qHeads, 1);
    }

    Tensor k() {
        return random(kvHeads, 2);
    }

    Tensor v() {
        return random(kvHeads, 3);
    }

    Tensor dOut() {
        return random(qHeads, 4);
    }

    private Tensor random(int heads, int stream) {
        SplittableRandom rnd = new SplittableRandom(seed * 31 + stream);
        float[] x = new float[batch * heads * n * dim];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 4 - 2);
        }
        return Tensor.wrap(x, batch, heads, n, dim);
    }
}
