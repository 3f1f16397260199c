package org.ringattention.kernel;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;

/**
 * The Vector API kernels equal their scalar twin bit for bit, on tiles of every size around the
 * register-tile and vector widths (tails included) and across the chunk boundary of long sums.
 * Surefire runs this class at the preferred vector width and at 256 bits.
 */
class KernelTwinProperties {

    private final Kernels scalar = Kernels.scalar();
    private final Kernels vector = Kernels.vector();

    @Property
    void scoreTiles(@ForAll @IntRange(min = 1, max = 11) int rows, @ForAll @IntRange(min = 1, max = 150) int cols,
            @ForAll @IntRange(min = 1, max = 130) int d, @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] q = gaussian(rnd, 3 + rows * d);
        float[] k = gaussian(rnd, 2 + cols * d);
        float[] kT1 = new float[5 + cols * d];
        float[] kT2 = new float[5 + cols * d];
        scalar.packTransposed(k, 2, cols, d, kT1, 5);
        vector.packTransposed(k, 2, cols, d, kT2, 5);
        assertThat(kT2).isEqualTo(kT1);
        float scale = (float) rnd.nextDouble(0.01, 2);
        float[] s1 = new float[rows * cols];
        float[] s2 = new float[rows * cols];
        float[] m1 = new float[rows];
        float[] m2 = new float[rows];
        scalar.scoreTile(q, 3, rows, kT1, 5, cols, d, scale, s1, m1);
        vector.scoreTile(q, 3, rows, kT1, 5, cols, d, scale, s2, m2);
        assertThat(s2).isEqualTo(s1);
        assertThat(m2).isEqualTo(m1);
        for (int r = 0; r < rows; r++) {
            assertThat(m1[r]).isEqualTo(scalar.max(s1, r * cols, cols));
        }
        float[] s3 = new float[rows * cols];
        vector.scoreTile(q, 3, rows, kT1, 5, cols, d, scale, s3, null);
        assertThat(s3).isEqualTo(s1);
    }

    @Property
    void expAndMax(@ForAll @IntRange(min = 1, max = 300) int len, @ForAll @IntRange(min = 0, max = 40) int off,
            @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = gaussian(rnd, off + len);
        for (int i = 0; i < x.length; i++) {
            x[i] *= 30; // exponents down to about −200: subnormal and zero results included
            if (rnd.nextInt(7) == 0) {
                x[i] = Float.NEGATIVE_INFINITY;
            }
        }
        float m1 = scalar.max(x, off, len);
        assertThat(vector.max(x, off, len)).isEqualTo(m1);
        float shift = Float.isInfinite(m1) ? 0f : m1;
        float[] y1 = x.clone();
        float[] y2 = x.clone();
        float sum1 = scalar.expShifted(y1, off, len, shift);
        float sum2 = vector.expShifted(y2, off, len, shift);
        assertThat(y2).isEqualTo(y1);
        assertThat(sum2).isEqualTo(sum1);
    }

    @Property
    void products(@ForAll @IntRange(min = 1, max = 11) int rows, @ForAll @IntRange(min = 1, max = 300) int inner,
            @ForAll @IntRange(min = 1, max = 130) int n, @ForAll @IntRange(min = 0, max = 5) int cOff,
            @ForAll @IntRange(min = 0, max = 7) int bOff, @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = gaussian(rnd, rows * inner);
        float[] b = gaussian(rnd, bOff + inner * n);
        float[] c0 = gaussian(rnd, cOff + rows * n);
        float[] c1 = c0.clone();
        float[] c2 = c0.clone();
        scalar.accumulateProduct(p, rows, inner, b, bOff, n, c1, cOff);
        vector.accumulateProduct(p, rows, inner, b, bOff, n, c2, cOff);
        assertThat(c2).isEqualTo(c1);

        float[] bt = gaussian(rnd, bOff + rows * n);
        float[] t0 = gaussian(rnd, cOff + inner * n);
        float[] t1 = t0.clone();
        float[] t2 = t0.clone();
        scalar.accumulateTransposedProduct(p, rows, inner, bt, bOff, n, t1, cOff);
        vector.accumulateTransposedProduct(p, rows, inner, bt, bOff, n, t2, cOff);
        assertThat(t2).isEqualTo(t1);
    }

    @Property(tries = 20)
    void productsSumInChunks(@ForAll @IntRange(min = 129, max = 600) int inner, @ForAll long seed) {
        // The documented order, written out: chunks of 128 terms summed from zero, then added.
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] p = gaussian(rnd, inner);
        float[] b = gaussian(rnd, inner);
        float[] c = {0.5f};
        vector.accumulateProduct(p, 1, inner, b, 0, 1, c, 0);
        float total = 0.5f;
        for (int t0 = 0; t0 < inner; t0 += Kernels.CHUNK) {
            float acc = 0f;
            for (int t = t0; t < Math.min(inner, t0 + Kernels.CHUNK); t++) {
                acc = Math.fma(p[t], b[t], acc);
            }
            total += acc;
        }
        assertThat(c[0]).isEqualTo(total);
    }

    @Property
    void expAroundItsClamps(@ForAll @IntRange(min = 1, max = 300) int len, @ForAll @IntRange(min = 2, max = 300) int rareOneIn,
            @ForAll long seed) {
        // Vectors whose arguments all lie where the result is a normal float, and vectors with some
        // near or beyond the clamps and the subnormal range, in every mixture: the scalar twin's
        // bits, at the bounds too.
        SplittableRandom rnd = new SplittableRandom(seed);
        float shift = (float) rnd.nextDouble(-3, 3);
        float[] rare = {-86f, Math.nextDown(-86f), 88f, Math.nextUp(88f), -87.4f, -103.9f, -104f, -150f, 88.5f,
            100f, Float.NEGATIVE_INFINITY};
        float[] x = new float[len];
        for (int i = 0; i < len; i++) {
            float y = rnd.nextInt(rareOneIn) == 0 ? rare[rnd.nextInt(rare.length)] : (float) rnd.nextDouble(-86, 88);
            x[i] = y + shift;
        }
        float[] y1 = x.clone();
        float[] y2 = x.clone();
        float sum1 = scalar.expShifted(y1, 0, len, shift);
        float sum2 = vector.expShifted(y2, 0, len, shift);
        assertThat(y2).isEqualTo(y1);
        assertThat(sum2).isEqualTo(sum1);
    }

    @Property
    void finiteCheck(@ForAll @IntRange(min = 0, max = 300) int len, @ForAll @IntRange(min = 0, max = 40) int off,
            @ForAll @IntRange(min = -1, max = 300) int badAt, @ForAll @IntRange(min = 0, max = 4) int kind,
            @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = gaussian(rnd, off + len + 3);
        float[] extremes = {Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE, -0f, 1e38f};
        for (int i = 0; i < x.length; i += 7) {
            x[i] = extremes[rnd.nextInt(extremes.length)]; // finite, however large or small
        }
        float[] bad = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, Float.intBitsToFloat(0x7fc00001),
            Float.intBitsToFloat(0xff800001)};
        if (badAt >= 0) {
            x[badAt % x.length] = bad[kind]; // inside the range or, some of the time, just outside it
        }
        boolean expected = true;
        for (int i = off; i < off + len; i++) {
            expected &= Float.isFinite(x[i]);
        }
        assertThat(scalar.allFinite(x, off, len)).isEqualTo(expected);
        assertThat(vector.allFinite(x, off, len)).isEqualTo(expected);
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
