package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/**
 * Relations attention must satisfy, checked on the engine: the transformed problem's engine result
 * is held to the accuracy rule against the original problem's oracle result, transformed the way
 * the relation predicts. Transformations are chosen to be exact in float32 (values on a coarse
 * grid, shifts and scales by powers of two), so the relation holds for the inputs the engine sees.
 */
class MetamorphicProperties {

    @Provide
    Arbitrary<Problem> unmasked() {
        return ProblemArbitraries.problems(Arbitraries.just(Problem.MaskKind.NONE)).map(MetamorphicProperties::onGrid);
    }

    @Provide
    Arbitrary<Problem> anyMask() {
        return ProblemArbitraries.problems().map(MetamorphicProperties::onGrid);
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Property
    void permutingKeysWithValuesChangesNothing(@ForAll("unmasked") Problem p, @ForAll("blocks") int block,
            @ForAll long seed) {
        AttentionShape s = p.shape();
        int[] perm = permutation(s.kvLen(), seed);
        float[] k2 = permuteRows(p.k(), s, perm);
        float[] v2 = permuteRows(p.v(), s, perm);
        Problem permuted = p.withInputs(p.q(), k2, v2);
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Result base = permuted.vanilla(VanillaAttention.Precision.FLOAT32);
        AttentionOutput got = permuted.blockwise(block, block);
        assertRule("O", ref.out(), got.out().toArray(), base.out(), ErrorStats.maxAbs(Problem.widen(p.v())), p);
        assertRule("LSE", ref.lse(), got.lse(), base.lse(), ErrorStats.maxAbs(ref.lse()) + 1, p);
    }

    @Property
    void shiftingEveryKeyShiftsOnlyLse(@ForAll("anyMask") Problem p, @ForAll("blocks") int block,
            @ForAll long seed) {
        AttentionShape s = p.shape();
        int d = s.dim();
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] u = new float[d];
        for (int x = 0; x < d; x++) {
            u[x] = (rnd.nextInt(9) - 4) / 4f; // exact: k + u stays on the grid
        }
        float[] k2 = p.k().clone();
        for (int i = 0; i < k2.length; i++) {
            k2[i] += u[i % d];
        }
        Problem shifted = p.withInputs(p.q(), k2, p.v());
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        double scale = p.spec().scaleFor(d);
        double[] expectedLse = ref.lse().clone();
        for (int row = 0; row < expectedLse.length; row++) {
            double qu = 0;
            for (int x = 0; x < d; x++) {
                qu += (double) p.q()[row * d + x] * u[x];
            }
            expectedLse[row] += scale * qu; // −∞ stays −∞
        }
        VanillaAttention.Result base = shifted.vanilla(VanillaAttention.Precision.FLOAT32);
        AttentionOutput got = shifted.blockwise(block, block);
        assertRule("O", ref.out(), got.out().toArray(), base.out(), ErrorStats.maxAbs(Problem.widen(p.v())), p);
        assertRule("LSE", expectedLse, got.lse(), base.lse(), ErrorStats.maxAbs(expectedLse) + 1, p);
    }

    @Property
    void outputIsLinearInValues(@ForAll("anyMask") Problem p, @ForAll("blocks") int blockQ,
            @ForAll("blocks") int blockKv, @ForAll long seed) {
        // Scaling by a power of two is exact at every step: bit-identical.
        float[] v2x = p.v().clone();
        for (int i = 0; i < v2x.length; i++) {
            v2x[i] *= 2;
        }
        float[] o = p.blockwise(blockQ, blockKv).out().toArray();
        float[] o2 = p.withInputs(p.q(), p.k(), v2x).blockwise(blockQ, blockKv).out().toArray();
        for (int i = 0; i < o.length; i++) {
            assertThat(o2[i]).as("O(2V) = 2 O(V) at %d of %s", i, p).isEqualTo(2 * o[i]);
        }
        // Sum of two value sets (exact on the grid): O(V + W) = O(V) + O(W).
        float[] wv = onGrid(Problem.random(p.shape(), p.spec(), seed, 1)).v();
        float[] sum = p.v().clone();
        for (int i = 0; i < sum.length; i++) {
            sum[i] += wv[i];
        }
        double[] refV = p.vanilla(VanillaAttention.Precision.FLOAT64).out();
        double[] refW = p.withInputs(p.q(), p.k(), wv).vanilla(VanillaAttention.Precision.FLOAT64).out();
        double[] expected = new double[refV.length];
        for (int i = 0; i < expected.length; i++) {
            expected[i] = refV[i] + refW[i];
        }
        Problem summed = p.withInputs(p.q(), p.k(), sum);
        assertRule("O(V+W)", expected, summed.blockwise(blockQ, blockKv).out().toArray(),
                summed.vanilla(VanillaAttention.Precision.FLOAT32).out(), ErrorStats.maxAbs(Problem.widen(sum)), p);
    }

    private static void assertRule(String what, double[] ref, float[] got, double[] base, double magnitude,
            Problem p) {
        AccuracyRule.Verdict v = AccuracyRule.FORWARD.judge(ref, Problem.widen(got), base, magnitude);
        assertThat(v.pass()).as("%s of %s: %s", what, p, v).isTrue();
    }

    /** The problem with q, k and v rounded to multiples of 1/64 (|x| stays below 2⁸: sums of two are exact). */
    static Problem onGrid(Problem p) {
        return p.withInputs(grid(p.q()), grid(p.k()), grid(p.v()));
    }

    private static float[] grid(float[] x) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = Math.round(x[i] * 64f) / 64f;
        }
        return y;
    }

    private static int[] permutation(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = n - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        return perm;
    }

    /** Rows of every (b, h) of a [B, Hkv, Nk, d] array reordered: row j of the result is row perm[j]. */
    private static float[] permuteRows(float[] x, AttentionShape s, int[] perm) {
        int d = s.dim();
        int n = s.kvLen();
        float[] y = new float[x.length];
        for (int head = 0; head < s.batch() * s.kvHeads(); head++) {
            for (int j = 0; j < n; j++) {
                System.arraycopy(x, (head * n + perm[j]) * d, y, (head * n + j) * d, d);
            }
        }
        return y;
    }
}
