package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.RingReport;
import org.ringattention.tensor.Tensor;

/**
 * The child JVM of {@code experiment memory --rss}: runs one ring forward pass (full mask,
 * contiguous layout) and prints the largest device's buffers and the process's peak resident set
 * (VmHWM of /proc/self/status), so that each point's peak is its own and not an earlier point's.
 * Arguments: N P d H block-q block-kv threads.
 */
final class MemoryProbe {

    /** The line the parent reads: {@value} followed by device bytes and peak RSS bytes. */
    static final String PREFIX = "memory-probe";

    private MemoryProbe() {
    }

    public static void main(String[] args) throws IOException {
        int n = Integer.parseInt(args[0]);
        int p = Integer.parseInt(args[1]);
        int d = Integer.parseInt(args[2]);
        int h = Integer.parseInt(args[3]);
        RingReport report = run(n, p, d, h, Integer.parseInt(args[4]), Integer.parseInt(args[5]),
                Integer.parseInt(args[6]));
        System.out.println(PREFIX + " " + report.maxBytesPerDevice() + " " + peakRss());
    }

    /** One ring forward pass on standard normal inputs. */
    static RingReport run(int n, int p, int d, int h, int blockQ, int blockKv, int threads) {
        SplittableRandom rnd = new SplittableRandom(n * 31L + p);
        Tensor q = gaussian(rnd, n, d, h);
        Tensor k = gaussian(rnd, n, d, h);
        Tensor v = gaussian(rnd, n, d, h);
        return new RingAttention(Kernels.preferred(), blockQ, blockKv, threads, p, Layout.CONTIGUOUS,
                LinkModel.UNTHROTTLED).forward(q, k, v, AttentionSpec.DEFAULT).report();
    }

    /** VmHWM of /proc/self/status in bytes, or -1 where there is no such file (not Linux). */
    static long peakRss() throws IOException {
        Path status = Path.of("/proc/self/status");
        if (!Files.isReadable(status)) {
            return -1;
        }
        for (String line : Files.readAllLines(status)) {
            if (line.startsWith("VmHWM:")) {
                String[] parts = line.substring(6).trim().split("\\s+");
                return Long.parseLong(parts[0]) * 1024; // kB
            }
        }
        return -1;
    }

    static Tensor gaussian(SplittableRandom rnd, int n, int d, int h) {
        float[] x = new float[h * n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, 1, h, n, d);
    }
}
