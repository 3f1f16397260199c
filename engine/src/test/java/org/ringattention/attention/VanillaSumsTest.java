package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.VanillaAttention.Precision;

/**
 * The float32 baseline's long sums, bit for bit: its class comment makes them part of what it is
 * ("the long sums of matrix products, over keys or queries, in chunks of 128 terms, as a blocked
 * matrix product sums them"), since the accuracy rule measures the engine against that baseline.
 * The inputs make every score 0 (q only in dimension 0, k only in dimension 1), so P is uniform and
 * every term of dV, dK and dQ is known in closed form; the sums are then formed here from the
 * written rule (fused product and sum, a fold every 128 terms) over 300 terms of many binades,
 * where another grouping changes the last bits. Also: NumPy's pairwise sum at n = 8 (the
 * eight-accumulator path, not the sequential one), the oracle's gradient magnitudes under a soft
 * cap, and its sink gradient without sinks.
 */
class VanillaSumsTest {

    private static final int N = 300;
    private static final int CHUNK = 128;

    @Test
    void float32GradientsSumInChunksOf128Terms() {
        SplittableRandom rnd = new SplittableRandom(18);
        AttentionShape shape = new AttentionShape(1, 1, 1, N, N, 2);
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(0.5);
        double[] q = new double[N * 2];
        double[] k = new double[N * 2];
        double[] v = new double[N * 2];
        double[] dOut = new double[N * 2];
        for (int i = 0; i < N; i++) {
            q[2 * i] = binades(rnd);
            k[2 * i + 1] = binades(rnd);
            v[2 * i] = binades(rnd);
            v[2 * i + 1] = binades(rnd);
            dOut[2 * i] = binades(rnd);
            dOut[2 * i + 1] = binades(rnd);
        }
        VanillaAttention.Grads g = new VanillaAttention(Precision.FLOAT32).backward(shape, spec, q, k, v, dOut);

        // forward: every score 0, so exp(S − m) = 1, l = N, LSE = log N, O_x = (Σ_j V_jx) / N, P = exp(−LSE)
        float lse = (float) StrictMath.log(N);
        float p = (float) StrictMath.exp(-lse);
        float[] o = new float[2];
        for (int x = 0; x < 2; x++) {
            int col = x;
            o[x] = (float) (chunked(j -> v[2 * j + col]) / (double) N);
        }
        float[] ds = new float[N * N];
        for (int i = 0; i < N; i++) {
            float delta = fma(fma(0, (float) dOut[2 * i], o[0]), (float) dOut[2 * i + 1], o[1]);
            for (int j = 0; j < N; j++) {
                float dp = fma(fma(0, (float) dOut[2 * i], (float) v[2 * j]), (float) dOut[2 * i + 1],
                        (float) v[2 * j + 1]);
                ds[i * N + j] = p * (dp - delta);
            }
        }
        double[] dq = new double[N * 2];
        double[] dk = new double[N * 2];
        double[] dv = new double[N * 2];
        for (int a = 0; a < N; a++) {
            int r = a;
            dq[2 * a + 1] = (float) (0.5 * chunked(j -> (double) ds[r * N + j] * k[2 * j + 1]));
            dk[2 * a] = (float) (0.5 * chunked(i -> (double) ds[i * N + r] * q[2 * i]));
            dv[2 * a] = chunked(i -> (double) p * dOut[2 * i]);
            dv[2 * a + 1] = chunked(i -> (double) p * dOut[2 * i + 1]);
        }
        assertArrayEquals(dv, g.dv(), "dV = Σ_i P_ij dO_i");
        assertArrayEquals(dk, g.dk(), "dK = scale · Σ_i dS_ij Q_i");
        assertArrayEquals(dq, g.dq(), "dQ = scale · Σ_j dS_ij K_j");
    }

    @Test
    void eightTermsTakeTheEightAccumulatorPath() {
        // sequentially 1 + 2^-24 + 2^-24 rounds to 1 twice; NumPy's eight sums add the two halves first
        double tiny32 = 0x1p-24;
        double[] x = {1, 0, tiny32, tiny32, 0, 0, 0, 0};
        assertEquals(1 + 0x1p-23, new VanillaAttention(Precision.FLOAT32).pairwiseSum(x, 0, 8));
        double tiny64 = 0x1p-53;
        double[] y = {1, 0, tiny64, tiny64, 0, 0, 0, 0};
        assertEquals(1 + 0x1p-52, VanillaAttention.oracle().pairwiseSum(y, 0, 8));
        assertEquals(1.0, VanillaAttention.oracle().pairwiseSum(y, 0, 7), "below 8: in order");
    }

    @Test
    void withoutSinksTheSinkGradientIsZeroPerHead() {
        AttentionShape shape = new AttentionShape(1, 3, 1, 2, 2, 1);
        double[] x = {1, 2, 3, 4, 5, 6};
        assertArrayEquals(new double[3], VanillaAttention.oracle().sinkGradient(shape, AttentionSpec.DEFAULT, x,
                new double[] {1, 2}, new double[] {3, 4}, x));
    }

    /** Σ term(0 .. N−1) in float32 as the rule says: each product added with one rounding, folded every 128 terms. */
    private static double chunked(java.util.function.IntToDoubleFunction term) {
        float total = 0;
        float open = 0;
        for (int t = 0; t < N; t++) {
            open = (float) (open + term.applyAsDouble(t));
            if (t % CHUNK == CHUNK - 1) {
                total += open;
                open = 0;
            }
        }
        return total + open;
    }

    /** a + b·c with one rounding to float32 (the product of two floats is exact in double). */
    private static float fma(float a, float b, float c) {
        return (float) (a + (double) b * c);
    }

    /** A float32 value of random sign over twelve binades. */
    private static double binades(SplittableRandom rnd) {
        return (float) ((rnd.nextBoolean() ? 1 : -1) * (1 + rnd.nextDouble()) * Math.pow(2, rnd.nextInt(-6, 6)));
    }
}
