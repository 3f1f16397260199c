package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * Reproducibility at scale: forward (O, LSE) and backward (dQ, dK, dV) are the same bits over 50
 * repeated runs, each with another thread count (1 to 8, in turn) and kernel set (the scalar twin
 * and the preferred kernels, alternating), for the shapes of the default suite: a length that no
 * block divides (97, 200), head dimension 59, GQA, full and causal, blocks that do not divide N.
 * One N = 16384 case runs under {@code -Pexhaustive}. This class runs again at 256-bit vectors
 * and with the scalar twin forced (engine's surefire executions).
 */
class ReproducibilityTest {

    private static final int RUNS = 50;

    /** All five outputs of one forward and backward run, flattened. */
    private record Run(float[] out, float[] lse, float[] dq, float[] dk, float[] dv) {
    }

    private static Tensor random(SplittableRandom rnd, int b, int h, int n, int d) {
        float[] x = new float[b * h * n * d];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, b, h, n, d);
    }

    private static Run run(Kernels kernels, int threads, int bq, int bkv, Tensor q, Tensor k, Tensor v, Tensor dOut,
            AttentionSpec spec) {
        BlockwiseAttention a = new BlockwiseAttention(kernels, bq, bkv, threads);
        AttentionOutput fwd = a.forward(q, k, v, spec);
        Gradients g = a.backward(q, k, v, fwd, dOut, spec);
        return new Run(fwd.out().toArray(), fwd.lse(), g.dq().toArray(), g.dk().toArray(), g.dv().toArray());
    }

    private static void assertSameBits(Run want, Run got, String what) {
        assertArrayEquals(want.out(), got.out(), "O " + what);
        assertArrayEquals(want.lse(), got.lse(), "LSE " + what);
        assertArrayEquals(want.dq(), got.dq(), "dQ " + what);
        assertArrayEquals(want.dk(), got.dk(), "dK " + what);
        assertArrayEquals(want.dv(), got.dv(), "dV " + what);
    }

    private static void repeat(int runs, int heads, int kvHeads, int n, int d, int bq, int bkv, AttentionSpec spec,
            long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor q = random(rnd, 1, heads, n, d);
        Tensor k = random(rnd, 1, kvHeads, n, d);
        Tensor v = random(rnd, 1, kvHeads, n, d);
        Tensor dOut = random(rnd, 1, heads, n, d);
        Run reference = run(Kernels.scalar(), 1, bq, bkv, q, k, v, dOut, spec);
        for (int r = 0; r < runs; r++) {
            int threads = 1 + r % 8;
            Kernels kernels = r % 2 == 0 ? Kernels.preferred() : Kernels.scalar();
            assertSameBits(reference, run(kernels, threads, bq, bkv, q, k, v, dOut, spec),
                    "run " + r + ": " + kernels.name() + ", " + threads + " threads, N=" + n + " d=" + d + " " + spec);
        }
    }

    @Test
    void fiftyRunsOnAnyThreadsAndKernelsGiveTheSameBits() {
        repeat(RUNS, 2, 1, 97, 59, 32, 48, AttentionSpec.DEFAULT.withCausal(true), 1);
        repeat(RUNS, 2, 2, 200, 16, 64, 37, AttentionSpec.DEFAULT, 2);
    }

    /** N = 16384, d = 64, causal, blocks 128 × 128: 8 runs (threads 1 to 8, kernels alternating). */
    @Test
    @EnabledIfSystemProperty(named = "ringattention.exhaustive", matches = "true")
    void atSixteenThousandTokens() {
        repeat(8, 1, 1, 16384, 64, 128, 128, AttentionSpec.DEFAULT.withCausal(true), 3);
    }
}
