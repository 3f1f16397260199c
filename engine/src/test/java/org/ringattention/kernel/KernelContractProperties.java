package org.ringattention.kernel;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/**
 * Every {@link Kernels} implementation (the scalar twin and the Vector API kernels) against the
 * interface's own contract, written out here as naive loops in the documented order: the same
 * bits, at offsets into larger arrays, on tiles of every size around vector and register-tile
 * widths (rows up to 12 and columns up to 72 reach the 8-row and two-vector register tiles at
 * 512 bits), across the chunk boundary of long sums, and leaving every element outside its range
 * as it was. Independent of how either implementation is written, so it survives kernel rewrites.
 */
class KernelContractProperties {

    @Provide
    Arbitrary<Kernels> kernels() {
        return Arbitraries.of(List.of(Kernels.scalar(), Kernels.vector()));
    }

    @Property(tries = 30)
    void scoresAreScaledFmaDotProductsInIncreasingOrder(@ForAll("kernels") Kernels kernels,
            @ForAll @IntRange(min = 1, max = 12) int rows, @ForAll @IntRange(min = 1, max = 70) int cols,
            @ForAll @IntRange(min = 1, max = 70) int d, @ForAll boolean withMax, @ForAll long seed) {
        checkScores(kernels, rows, cols, d, withMax, seed);
    }

    /**
     * Shapes that reach every tile of the vector kernels on every run, whatever the random draws
     * of the properties: two 4-row groups and a row left over; two whole 4 × 4 tiles of keys, one
     * whole vector and a masked tail; at d = 130 more than one strip of keys.
     */
    @Example
    void scoresOfShapesThatReachEveryTile() {
        int tile = 4 * VectorKernels.lanes();
        for (Kernels kernels : List.of(Kernels.scalar(), Kernels.vector())) {
            for (int d : new int[] {5, 130}) {
                checkScores(kernels, 9, 2 * tile + VectorKernels.lanes() + 3, d, true, 31 + d);
                checkScores(kernels, 9, 2 * tile + VectorKernels.lanes() + 3, d, false, 37 + d);
            }
        }
    }

    private static void checkScores(Kernels kernels, int rows, int cols, int d, boolean withMax, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int qOff = rnd.nextInt(5);
        int kOff = rnd.nextInt(5);
        int tOff = rnd.nextInt(5);
        float[] q = gaussian(rnd, qOff + rows * d + 3);
        float[] k = gaussian(rnd, kOff + cols * d + 3);
        float[] kT = gaussian(rnd, tOff + cols * d + 3);
        float[] kTWant = kT.clone();
        for (int kk = 0; kk < d; kk++) {
            for (int c = 0; c < cols; c++) {
                kTWant[tOff + kk * cols + c] = k[kOff + c * d + kk];
            }
        }
        kernels.packTransposed(k, kOff, cols, d, kT, tOff);
        assertArrayEquals(kTWant, kT, "packTransposed: the block and nothing else");

        float scale = (float) rnd.nextDouble(0.05, 2);
        float[] want = new float[rows * cols];
        float[] wantMax = new float[rows];
        for (int r = 0; r < rows; r++) {
            wantMax[r] = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                float acc = 0f;
                for (int kk = 0; kk < d; kk++) {
                    acc = Math.fma(q[qOff + r * d + kk], k[kOff + c * d + kk], acc);
                }
                want[r * cols + c] = scale * acc;
                wantMax[r] = Math.max(wantMax[r], want[r * cols + c]);
            }
        }
        float[] s = gaussian(rnd, rows * cols);
        float[] rowMax = withMax ? gaussian(rnd, rows) : null;
        kernels.scoreTile(q, qOff, rows, kT, tOff, cols, d, scale, s, rowMax);
        assertArrayEquals(want, s, kernels.name());
        if (withMax) {
            assertArrayEquals(wantMax, rowMax, kernels.name() + " rowMax");
        }
    }

    @Property(tries = 40)
    void expShiftedSumsSixteenLanesByAFixedTree(@ForAll("kernels") Kernels kernels,
            @ForAll @IntRange(min = 0, max = 200) int len, @ForAll @IntRange(min = 0, max = 20) int off,
            @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = gaussian(rnd, off + len + 4);
        for (int i = 0; i < x.length; i++) {
            x[i] *= 20;
            if (rnd.nextInt(9) == 0) {
                x[i] = Float.NEGATIVE_INFINITY;
            }
        }
        float shift = (float) rnd.nextDouble(-20, 20);
        float[] want = x.clone();
        float[] lanes = new float[Kernels.SUM_LANES];
        for (int t = 0; t < len; t++) {
            want[off + t] = PolynomialExp.exp(x[off + t] - shift);
            lanes[t % Kernels.SUM_LANES] += want[off + t];
        }
        for (int w = Kernels.SUM_LANES / 2; w >= 1; w /= 2) {
            for (int j = 0; j < w; j++) {
                lanes[j] += lanes[j + w];
            }
        }
        float sum = kernels.expShifted(x, off, len, shift);
        assertArrayEquals(want, x, kernels.name());
        assertEquals(lanes[0], sum, kernels.name() + " sum");
    }

    /**
     * The vector exp takes a short path (one scale factor, no clamps) when every lane of a vector
     * lies in [{@link VectorKernels#EXP_SAFE_LO}, {@link VectorKernels#EXP_SAFE_HI}] and the full
     * one otherwise. Every float within 1 of either threshold, the clamps and their neighbours, ±∞,
     * NaNs of several payloads, ±0 and the extremes, laid out three ways (sorted: whole vectors on
     * either side and one across; shuffled: both sides mixed in most vectors; a rare value at every
     * 17th place among safe ones: one odd lane in every lane position), with a masked tail, against
     * the scalar twin bit for bit (raw bits: NaN payloads count too; of the sum, NaN is enough). Reads the thresholds, so a
     * changed threshold is swept where it is.
     */
    @Example
    void expShiftedEqualsTheScalarTwinBitForBitAroundTheShortPathThresholds() {
        float lo = VectorKernels.EXP_SAFE_LO;
        float hi = VectorKernels.EXP_SAFE_HI;
        List<Float> values = new ArrayList<>();
        for (float y = lo - 1; y <= lo + 1; y = Math.nextUp(y)) {
            values.add(y);
        }
        for (float y = hi - 1; y <= hi + 1; y = Math.nextUp(y)) {
            values.add(y);
        }
        List<Float> special = new ArrayList<>(List.of(Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, 0f, -0f,
                Float.MIN_VALUE, -Float.MIN_VALUE, Float.MAX_VALUE, -Float.MAX_VALUE, -1e-30f, 1e-30f));
        for (int bits : new int[] {0x7fc00000, 0xffc00000, 0x7fc00001, 0x7fa00000, 0xff812345, 0x7fffffff}) {
            special.add(Float.intBitsToFloat(bits));
        }
        for (float c : new float[] {PolynomialExp.LOWEST, PolynomialExp.HIGHEST}) {
            float below = c;
            float above = c;
            special.add(c);
            for (int k = 0; k < 4; k++) {
                below = Math.nextDown(below);
                above = Math.nextUp(above);
                special.add(below);
                special.add(above);
            }
        }
        values.addAll(special);
        List<Float> safe = new ArrayList<>();
        List<Float> rare = new ArrayList<>(special);
        for (float y : values) {
            if (y >= lo && y <= hi) {
                safe.add(y);
            } else if (!Float.isNaN(y)) {
                rare.add(y);
            }
        }

        float[] sorted = new float[values.size()];
        for (int i = 0; i < sorted.length; i++) {
            sorted[i] = values.get(i);
        }
        float[] shuffled = sorted.clone();
        SplittableRandom rnd = new SplittableRandom(47);
        for (int i = shuffled.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            float tmp = shuffled[i];
            shuffled[i] = shuffled[j];
            shuffled[j] = tmp;
        }
        float[] oddLane = new float[safe.size()];
        for (int i = 0, s = 0, r = 0; i < oddLane.length; i++) {
            oddLane[i] = i % 17 == 0 ? rare.get(r++ % rare.size()) : safe.get(s++);
        }

        for (float[] ys : List.of(sorted, shuffled, oddLane)) {
            int off = 3;
            int len = ys.length / Kernels.SUM_LANES * Kernels.SUM_LANES + 5; // a masked tail of 5
            float[] x = new float[off + ys.length + 1];
            System.arraycopy(ys, 0, x, off, ys.length);
            float[] want = x.clone();
            float wantSum = Kernels.scalar().expShifted(want, off, len, 0f);
            float sum = Kernels.vector().expShifted(x, off, len, 0f);
            for (int i = 0; i < x.length; i++) {
                if (Float.floatToRawIntBits(x[i]) != Float.floatToRawIntBits(want[i])) {
                    throw new AssertionError(Kernels.vector().name() + ": exp(" + ys[Math.max(0, i - off)] + ") at "
                            + (i - off) + " = " + Integer.toHexString(Float.floatToRawIntBits(x[i])) + ", scalar "
                            + Integer.toHexString(Float.floatToRawIntBits(want[i])));
                }
            }
            // which NaN a sum of several keeps depends on operand order, unspecified: NaN is NaN here
            assertEquals(wantSum, sum, "sum");
        }
    }

    @Property(tries = 40)
    void maxAndFiniteCheckSeeExactlyTheirRange(@ForAll("kernels") Kernels kernels,
            @ForAll @IntRange(min = 1, max = 200) int len, @ForAll @IntRange(min = 0, max = 20) int off,
            @ForAll long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = gaussian(rnd, off + len + 2);
        x[off + rnd.nextInt(len)] = 50f; // the largest inside
        if (off > 0) {
            x[off - 1] = 1000f; // larger ones just outside
        }
        x[off + len] = 1000f;
        assertEquals(50f, kernels.max(x, off, len), kernels.name());
        float[] ninf = new float[len];
        Arrays.fill(ninf, Float.NEGATIVE_INFINITY);
        assertEquals(Float.NEGATIVE_INFINITY, kernels.max(ninf, 0, len));

        x[off + len] = Float.NaN;
        if (off > 0) {
            x[off - 1] = Float.POSITIVE_INFINITY;
        }
        assertEquals(true, kernels.allFinite(x, off, len), kernels.name() + ": outside the range");
        x[off + rnd.nextInt(len)] = rnd.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY;
        assertEquals(false, kernels.allFinite(x, off, len), kernels.name());
        assertEquals(true, kernels.allFinite(x, off, 0), "an empty range is finite");
    }

    @Property(tries = 30)
    void productsSumTheirTermsInChunks(@ForAll("kernels") Kernels kernels,
            @ForAll @IntRange(min = 1, max = 12) int rows, @ForAll @IntRange(min = 1, max = 300) int inner,
            @ForAll @IntRange(min = 1, max = 72) int n, @ForAll long seed) {
        checkProducts(kernels, rows, inner, n, seed);
    }

    /**
     * Shapes that reach every tile of the vector products on every run: 19 output rows (two 8-row
     * tiles, then rows alone; in the masked tail four 4-row tiles, then rows alone), two strips of
     * two vectors, one whole vector and a masked tail along n, and a long sum of two chunks.
     */
    @Example
    void productsOfShapesThatReachEveryTile() {
        int lanes = VectorKernels.lanes();
        for (Kernels kernels : List.of(Kernels.scalar(), Kernels.vector())) {
            checkProducts(kernels, 19, Kernels.CHUNK + 9, 4 * lanes + lanes + 3, 41);
            checkProducts(kernels, 19, 2 * Kernels.CHUNK, 4 * lanes, 43);
        }
    }

    /**
     * C += P B of products that all round to −0 (−1e−30 · 1e−20), into C = −0: every chunk's sum
     * is −0 and −0 + −0 stays −0, so C keeps its sign bit. A chunk summed once too often (+0 from
     * no terms) would flip it to +0.
     */
    @Example
    void productsKeepTheSignOfZero() {
        int lanes = VectorKernels.lanes();
        int rows = 19;
        int n = 4 * lanes + lanes + 3;
        for (Kernels kernels : List.of(Kernels.scalar(), Kernels.vector())) {
            for (int inner : new int[] {Kernels.CHUNK, 2 * Kernels.CHUNK}) {
                float[] p = new float[rows * inner];
                Arrays.fill(p, -1e-30f);
                float[] b = new float[inner * n];
                Arrays.fill(b, 1e-20f);
                float[] c = new float[rows * n];
                Arrays.fill(c, -0f);
                float[] want = c.clone();
                kernels.accumulateProduct(p, rows, inner, b, 0, n, c, 0);
                assertArrayEquals(want, c, kernels.name() + " C += P B, inner " + inner);
                // Pᵀ B with P [inner × rows]: the long sum runs over P's rows
                kernels.accumulateTransposedProduct(p, inner, rows, b, 0, n, c, 0);
                assertArrayEquals(want, c, kernels.name() + " C += Pᵀ B, inner " + inner);
            }
        }
    }

    @Example
    void namesSayWhichKernelsRan() {
        assertEquals("scalar", Kernels.scalar().name());
        assertEquals("vector-" + 32 * VectorKernels.lanes(), Kernels.vector().name());
    }

    private static void checkProducts(Kernels kernels, int rows, int inner, int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int bOff = rnd.nextInt(6);
        int cOff = rnd.nextInt(6);
        float[] p = gaussian(rnd, rows * inner);
        float[] b = gaussian(rnd, bOff + inner * n + 2);
        float[] c = gaussian(rnd, cOff + rows * n + 2);
        float[] want = c.clone();
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < n; x++) {
                float total = want[cOff + r * n + x];
                for (int t0 = 0; t0 < inner; t0 += Kernels.CHUNK) {
                    float acc = 0f;
                    for (int t = t0; t < Math.min(inner, t0 + Kernels.CHUNK); t++) {
                        acc = Math.fma(p[r * inner + t], b[bOff + t * n + x], acc);
                    }
                    total += acc;
                }
                want[cOff + r * n + x] = total;
            }
        }
        kernels.accumulateProduct(p, rows, inner, b, bOff, n, c, cOff);
        assertArrayEquals(want, c, kernels.name() + " C += P B");

        // C += Pᵀ B with P [inner × rows] read as rows = inner, cols = rows: the long sum runs over P's rows
        float[] bt = gaussian(rnd, bOff + inner * n + 2);
        float[] ct = gaussian(rnd, cOff + rows * n + 2);
        float[] wantT = ct.clone();
        for (int t = 0; t < rows; t++) {
            for (int x = 0; x < n; x++) {
                float total = wantT[cOff + t * n + x];
                for (int r0 = 0; r0 < inner; r0 += Kernels.CHUNK) {
                    float acc = 0f;
                    for (int r = r0; r < Math.min(inner, r0 + Kernels.CHUNK); r++) {
                        acc = Math.fma(p[r * rows + t], bt[bOff + r * n + x], acc);
                    }
                    total += acc;
                }
                wantT[cOff + t * n + x] = total;
            }
        }
        kernels.accumulateTransposedProduct(p, inner, rows, bt, bOff, n, ct, cOff);
        assertArrayEquals(wantT, ct, kernels.name() + " C += Pᵀ B");
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
