package org.ringattention.cli;

import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * The child JVM of {@code experiment max-context}: one causal forward pass of N tokens by one
 * method, inputs standard normal on the heap, within the child's -Xmx. Prints {@value #OK} when it
 * ran, {@value #OOM} (exit 3) when the heap was too small. Arguments: method (vanilla, blockwise,
 * ring) N d H P block-q block-kv threads.
 */
final class MaxContextProbe {

    static final String OK = "max-context-probe ok";
    static final String OOM = "max-context-probe out-of-memory";

    private MaxContextProbe() {
    }

    public static void main(String[] args) {
        String method = args[0];
        int n = Integer.parseInt(args[1]);
        int d = Integer.parseInt(args[2]);
        int h = Integer.parseInt(args[3]);
        int p = Integer.parseInt(args[4]);
        int bq = Integer.parseInt(args[5]);
        int bkv = Integer.parseInt(args[6]);
        int threads = Integer.parseInt(args[7]);
        try {
            run(method, n, d, h, p, bq, bkv, threads);
        } catch (OutOfMemoryError e) {
            System.out.println(OOM);
            System.out.flush();
            System.exit(3);
        }
        System.out.println(OK);
    }

    static void run(String method, int n, int d, int h, int p, int bq, int bkv, int threads) {
        SplittableRandom rnd = new SplittableRandom(n);
        Tensor q = MemoryProbe.gaussian(rnd, n, d, h);
        Tensor k = MemoryProbe.gaussian(rnd, n, d, h);
        Tensor v = MemoryProbe.gaussian(rnd, n, d, h);
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        switch (method) {
            case "vanilla" -> new VanillaAttention(VanillaAttention.Precision.FLOAT32).attend(q, k, v, spec);
            case "blockwise" -> new BlockwiseAttention(Kernels.preferred(), bq, bkv, threads).forward(q, k, v, spec);
            case "ring" -> new RingAttention(Kernels.preferred(), bq, bkv, threads, p, Layout.ZIGZAG,
                    LinkModel.UNTHROTTLED).forward(q, k, v, spec);
            default -> throw new IllegalArgumentException("unknown method " + method);
        }
    }
}
