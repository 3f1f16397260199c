package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.tensor.Tensor;

/**
 * The sink's gradient ∂L/∂sink_h = −Σ_{b,i} exp(sink_h − LSE_i) · D_i, D_i = rowsum(dO_i ∘ O_i),
 * written out here over two batches and two heads (so every index of the [B, Hq, Nq] rows is
 * read), in float64, with each operation rounded to float32, and from a float32 forward result.
 * SinkProperties checks it against the oracle but runs only outside the mutation profile.
 */
class AttentionSinksTest {

    private static final int B = 2, H = 2, NQ = 3, D = 2;
    private static final double[] LOGITS = {0.1, -0.7};

    @Test
    void theGradientSumsEveryRowOfItsHead() {
        SplittableRandom rnd = new SplittableRandom(3);
        int rows = B * H * NQ;
        double[] lse = new double[rows];
        double[] out = new double[rows * D];
        double[] dOut = new double[rows * D];
        for (int r = 0; r < rows; r++) {
            lse[r] = rnd.nextDouble(-1, 2);
        }
        for (int e = 0; e < out.length; e++) {
            out[e] = (float) rnd.nextDouble(-1, 1);
            dOut[e] = (float) rnd.nextDouble(-1, 1);
        }
        AttentionSinks sinks = AttentionSinks.of(LOGITS);
        AttentionShape shape = new AttentionShape(B, H, 1, NQ, 5, D);
        for (boolean float32 : new boolean[] {false, true}) {
            double[] g = sinks.gradient(shape, lse, out, dOut, float32);
            double[] want = byHand(lse, out, dOut, float32);
            for (int h = 0; h < H; h++) {
                assertEquals(want[h], g[h], "head " + h + (float32 ? ", float32" : ""));
            }
        }

        // from a float32 forward result: the float64 sums of its values, rounded once
        float[] lseF = new float[rows];
        float[] outF = new float[out.length];
        float[] dOutF = new float[out.length];
        double[] lseWide = new double[rows];
        for (int r = 0; r < rows; r++) {
            lseF[r] = (float) lse[r];
            lseWide[r] = lseF[r];
        }
        for (int e = 0; e < out.length; e++) {
            outF[e] = (float) out[e];
            dOutF[e] = (float) dOut[e];
        }
        AttentionOutput fwd = new AttentionOutput(Tensor.wrap(outF, B, H, NQ, D), lseF, 0, 0);
        float[] gf = sinks.gradient(fwd, Tensor.wrap(dOutF, B, H, NQ, D));
        double[] want = byHand(lseWide, out, dOut, false);
        for (int h = 0; h < H; h++) {
            assertEquals((float) want[h], gf[h], "head " + h + " of a float32 result");
        }
        SpecValuesTest.assertMessage("sinks have shape [2], expected [3] (one logit per query head)",
                () -> sinks.gradient(new AttentionShape(B, 3, 1, NQ, 5, D), lse, out, dOut, false));
        SpecValuesTest.assertMessage("dO has shape [2, 2, 2, 2], O [2, 2, 3, 2]",
                () -> sinks.gradient(fwd, Tensor.zeros(B, H, 2, D)));
    }

    /** The formula of the class comment, over b then i, each operation rounded when {@code float32}. */
    private static double[] byHand(double[] lse, double[] out, double[] dOut, boolean float32) {
        double[] g = new double[H];
        for (int h = 0; h < H; h++) {
            double sink = float32 ? (float) LOGITS[h] : LOGITS[h];
            double acc = 0;
            for (int b = 0; b < B; b++) {
                for (int i = 0; i < NQ; i++) {
                    int row = b * H * NQ + h * NQ + i;
                    double delta = 0;
                    for (int x = 0; x < D; x++) {
                        delta = round(delta + dOut[row * D + x] * out[row * D + x], float32);
                    }
                    double p = round(StrictMath.exp(round(sink - lse[row], float32)), float32);
                    acc = round(acc + p * delta, float32);
                }
            }
            g[h] = -acc;
        }
        return g;
    }

    private static double round(double x, boolean float32) {
        return float32 ? (float) x : x;
    }

    @Test
    void sinksCompareByValue() {
        AttentionSinks s = AttentionSinks.of(new double[] {1, 2});
        assertEquals(AttentionSinks.of(new double[] {1, 2}), s);
        assertEquals(AttentionSinks.of(new double[] {1, 2}).hashCode(), s.hashCode());
        assertNotEquals(AttentionSinks.of(new double[] {1, 3}), s);
        assertNotEquals(AttentionSinks.of(new double[] {1, 3}).hashCode(), s.hashCode());
        assertNotEquals(s, "sinks[2]");
        assertEquals("sinks[2]", s.toString());
    }
}
