package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.VanillaAttention.Precision;
import org.ringattention.tensor.Tensor;

/**
 * The oracle's own contract, apart from its results (which the verification suite checks against
 * finite differences and the double-double oracle): the softmax denominator summed in NumPy's
 * pairwise order (written out here from NumPy's {@code pairwise_sum}), the gradient magnitudes of
 * the accuracy rule by their formula, refused inputs named, and the names it reports.
 */
class VanillaAttentionTest {

    @Test
    void theDenominatorIsSummedInNumpysPairwiseOrder() {
        SplittableRandom rnd = new SplittableRandom(5);
        for (Precision precision : Precision.values()) {
            VanillaAttention vanilla = new VanillaAttention(precision);
            boolean single = precision == Precision.FLOAT32;
            for (int n : new int[] {1, 7, 8, 9, 15, 16, 17, 100, 127, 128, 129, 136, 300, 1025}) {
                double[] x = new double[n + 3];
                for (int i = 0; i < x.length; i++) {
                    // magnitudes over many binades, so that the order shows in the last bits
                    double e = rnd.nextDouble(0, 1) * Math.pow(2, rnd.nextInt(-20, 20));
                    x[i] = single ? (float) e : e;
                }
                assertEquals(numpyPairwise(x, 3, n, single), vanilla.pairwiseSum(x, 3, n), precision + ", n = " + n);
            }
        }
    }

    // B = Hq = Hkv = 1, Nq = 2, Nk = 3, d = 2, scale 0.7: the problem the magnitudes are worked out for by hand
    private static final AttentionShape SMALL = new AttentionShape(1, 1, 1, 2, 3, 2);
    private static final double[] Q = {0.5, -1, 2, 0.25};
    private static final double[] K = {1, 0.5, -0.75, 2, 0.3, -0.2};
    private static final double[] V = {0.2, -0.4, 1.5, 0.1, -1, 0.6};
    private static final double[] D_OUT = {-0.3, 0.8, 0.45, -1.2};

    @Test
    void gradientMagnitudesFollowTheirFormula() {
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(0.7);
        VanillaAttention.Grads m = VanillaAttention.oracle().gradientMagnitudes(SMALL, spec, Q, K, V, D_OUT);
        double[][] want = magnitudesByHand(0);
        assertClose(want[0], m.dq(), "|dQ|");
        assertClose(want[1], m.dk(), "|dK|");
        assertClose(want[2], m.dv(), "|dV|");
        assertEquals("gradient magnitudes come from the float64 oracle", assertThrows(IllegalStateException.class,
                () -> new VanillaAttention(Precision.FLOAT32).gradientMagnitudes(SMALL, spec, Q, K, V, D_OUT))
                .getMessage());
    }

    @Test
    void gradientMagnitudesUnderASoftCapCarryItsDerivative() {
        AttentionSpec spec = AttentionSpec.DEFAULT.withScale(0.7).withSoftcap(1.5);
        VanillaAttention.Grads m = VanillaAttention.oracle().gradientMagnitudes(SMALL, spec, Q, K, V, D_OUT);
        double[][] want = magnitudesByHand(1.5);
        assertClose(want[0], m.dq(), "|dQ|");
        assertClose(want[1], m.dk(), "|dK|");
    }

    /**
     * |dQ|, |dK|, |dV| magnitudes of the small problem, term by term as gradientMagnitudes' comment
     * states them; {@code softcap} 0 for none, else s = cap·tanh(scale·q·k / cap) and each dS term
     * carries the derivative 1 − tanh².
     */
    private static double[][] magnitudesByHand(double softcap) {
        double[] mq = new double[4];
        double[] mk = new double[6];
        double[] mv = new double[6];
        for (int i = 0; i < 2; i++) {
            double[] s = new double[3];
            double[] cap = new double[3];
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < 3; j++) {
                double raw = 0.7 * (Q[2 * i] * K[2 * j] + Q[2 * i + 1] * K[2 * j + 1]);
                double t = softcap == 0 ? 0 : Math.tanh(raw / softcap);
                s[j] = softcap == 0 ? raw : softcap * t;
                cap[j] = softcap == 0 ? 1 : 1 - t * t;
                max = Math.max(max, s[j]);
            }
            double l = 0;
            for (int j = 0; j < 3; j++) {
                l += Math.exp(s[j] - max);
            }
            double[] p = new double[3];
            double[] dp = new double[3];
            double delta = 0;
            for (int j = 0; j < 3; j++) {
                p[j] = Math.exp(s[j] - max) / l;
                dp[j] = D_OUT[2 * i] * V[2 * j] + D_OUT[2 * i + 1] * V[2 * j + 1];
                delta += p[j] * dp[j];
            }
            for (int j = 0; j < 3; j++) {
                double w = p[j] * (Math.abs(dp[j]) + Math.abs(delta)) * cap[j];
                for (int x = 0; x < 2; x++) {
                    mq[2 * i + x] += 0.7 * w * Math.abs(K[2 * j + x]);
                    mk[2 * j + x] += 0.7 * w * Math.abs(Q[2 * i + x]);
                    mv[2 * j + x] += p[j] * Math.abs(D_OUT[2 * i + x]);
                }
            }
        }
        return new double[][] {mq, mk, mv};
    }

    @Test
    void badInputsAreNamed() {
        AttentionShape shape = new AttentionShape(1, 1, 1, 2, 3, 2);
        VanillaAttention oracle = VanillaAttention.oracle();
        assertEquals("array sizes q=4 k=5 v=6 do not match " + shape, assertThrows(IllegalArgumentException.class,
                () -> oracle.forward(shape, AttentionSpec.DEFAULT, new double[4], new double[5], new double[6]))
                .getMessage());
        Tensor q = Tensor.zeros(1, 1, 2, 2);
        Tensor kv = Tensor.zeros(1, 1, 3, 2);
        Tensor bad = Tensor.zeros(1, 1, 3, 2);
        bad.set(0, 0, 1, 1, Float.NaN);
        Tensor badQ = Tensor.zeros(1, 1, 2, 2);
        badQ.set(0, 0, 0, 1, Float.POSITIVE_INFINITY);
        AttentionSpec d = AttentionSpec.DEFAULT;
        assertNamed("k contains NaN at [0, 0, 1, 1]", () -> oracle.attend(q, bad, kv, d));
        assertNamed("v contains NaN at [0, 0, 1, 1]", () -> oracle.attend(q, kv, bad, d));
        assertNamed("q contains Infinity at [0, 0, 0, 1]", () -> oracle.attend(badQ, kv, kv, d));
        AttentionOutput fwd = oracle.attend(q, kv, kv, d);
        assertNamed("q contains Infinity at [0, 0, 0, 1]", () -> oracle.gradients(badQ, kv, kv, fwd, q, d));
        assertNamed("dO contains Infinity at [0, 0, 0, 1]", () -> oracle.gradients(q, kv, kv, fwd, badQ, d));
        assertEquals("vanilla float64 oracle", oracle.describe());
        assertEquals("vanilla float32", new VanillaAttention(Precision.FLOAT32).describe());
    }

    /** NumPy's pairwise_sum: sequential below 8, eight interleaved sums up to 128, halves (multiples of 8) above. */
    private static double numpyPairwise(double[] a, int off, int n, boolean single) {
        if (n < 8) {
            double res = 0;
            for (int i = 0; i < n; i++) {
                res = round(res + a[off + i], single);
            }
            return res;
        }
        if (n <= 128) {
            double[] r = new double[8];
            for (int t = 0; t < 8; t++) {
                r[t] = a[off + t];
            }
            int i = 8;
            for (; i < n - n % 8; i += 8) {
                for (int t = 0; t < 8; t++) {
                    r[t] = round(r[t] + a[off + i + t], single);
                }
            }
            double res = round(round(round(r[0] + r[1], single) + round(r[2] + r[3], single), single)
                    + round(round(r[4] + r[5], single) + round(r[6] + r[7], single), single), single);
            for (; i < n; i++) {
                res = round(res + a[off + i], single);
            }
            return res;
        }
        int n2 = n / 2;
        n2 -= n2 % 8;
        return round(numpyPairwise(a, off, n2, single) + numpyPairwise(a, off + n2, n - n2, single), single);
    }

    private static double round(double x, boolean single) {
        return single ? (float) x : x;
    }

    private static void assertClose(double[] want, double[] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) {
            assertEquals(want[i], got[i], 1e-13 * Math.max(1, Math.abs(want[i])), what + " element " + i);
        }
    }

    private static void assertNamed(String start, Runnable r) {
        String message = assertThrows(IllegalArgumentException.class, r::run).getMessage();
        assertEquals(start + " (inputs must be finite)", message);
    }
}
