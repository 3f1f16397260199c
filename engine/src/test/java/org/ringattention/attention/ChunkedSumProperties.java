package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;

/**
 * {@link ChunkedSum} fed by the real kernel ({@code accumulateProduct}, one row: c += Σ_t a_t·B_t)
 * over splits of a sequence of positions into blocks, as the blockwise passes feed it.
 *
 * <p>What holds for every split, bit for bit: the sum is the documented two-level sum (a block
 * adds into the open part; the part is folded into the total when a block of another
 * {@link Kernels#CHUNK}-region or sequence arrives); blocks whose terms are all zero change
 * nothing whether absorbed or skipped; blocks that are whole regions give the bits of one block
 * over the whole sequence (the kernel's own chunking). What holds for every split as an error
 * level: |sum − exact| ≤ γ_k·Σ|terms| with k = CHUNK + 2n/CHUNK + 2. (Bits do depend on the block
 * size otherwise: a region split into two blocks sums two chains, not one.)
 */
class ChunkedSumProperties {

    private static final int CHUNK = Kernels.CHUNK;
    private static final double U = 0x1p-24;

    /** Terms a_t·B[t, e] at positions 0..n−1 of {@code width} elements. */
    record Terms(float[] a, float[] b, int n, int width) {
        static Terms random(SplittableRandom rnd, int n, int width) {
            float[] a = new float[n];
            float[] b = new float[n * width];
            for (int t = 0; t < n; t++) {
                a[t] = (float) rnd.nextDouble(0, 1);
                for (int e = 0; e < width; e++) {
                    b[t * width + e] = (float) rnd.nextDouble(-1, 1);
                }
            }
            return new Terms(a, b, n, width);
        }

        Terms withZeroBlocks(List<int[]> blocks, boolean[] zero) {
            float[] z = a.clone();
            for (int i = 0; i < blocks.size(); i++) {
                if (zero[i]) {
                    java.util.Arrays.fill(z, blocks.get(i)[0], blocks.get(i)[0] + blocks.get(i)[1], 0f);
                }
            }
            return new Terms(z, b, n, width);
        }

        double exact(int e) {
            double s = 0;
            for (int t = 0; t < n; t++) {
                s += (double) a[t] * b[t * width + e]; // exact products; double rounding ~2⁻⁵³ n, negligible
            }
            return s;
        }

        double magnitude(int e) {
            double s = 0;
            for (int t = 0; t < n; t++) {
                s += Math.abs((double) a[t] * b[t * width + e]);
            }
            return s;
        }
    }

    /** Random blocks [start, start + count) covering 0..n−1 in order: sizes 1..maxBlock. */
    static List<int[]> split(SplittableRandom rnd, int n, int maxBlock) {
        List<int[]> blocks = new ArrayList<>();
        for (int t = 0; t < n; ) {
            int count = Math.min(n - t, 1 + rnd.nextInt(maxBlock));
            blocks.add(new int[] {t, count});
            t += count;
        }
        return blocks;
    }

    /** Adds the blocks (all but the skipped ones) through target as the passes do, and stores the sum. */
    static float[] sum(ChunkedSum s, int sequence, Terms x, List<int[]> blocks, boolean[] skip) {
        s.reset(x.width());
        add(s, sequence, x, blocks, skip);
        float[] out = new float[x.width()];
        s.store(out, 0, x.width());
        return out;
    }

    static void add(ChunkedSum s, int sequence, Terms x, List<int[]> blocks, boolean[] skip) {
        for (int i = 0; i < blocks.size(); i++) {
            if (skip != null && skip[i]) {
                continue;
            }
            int t0 = blocks.get(i)[0];
            int count = blocks.get(i)[1];
            float[] target = s.target(sequence, t0, count, x.n());
            float[] a = java.util.Arrays.copyOfRange(x.a(), t0, t0 + count);
            Kernels.scalar().accumulateProduct(a, 1, count, x.b(), t0 * x.width(), x.width(), target, s.base);
        }
    }

    /** The two-level sum written out: per element, total += part when the region changes. */
    static float[] model(Terms x, List<int[]> blocks) {
        float[] out = new float[x.width()];
        for (int e = 0; e < x.width(); e++) {
            float total = 0;
            float part = 0;
            long open = Long.MIN_VALUE;
            for (int[] blk : blocks) {
                int t0 = blk[0];
                long region = t0 / CHUNK;
                if (open != Long.MIN_VALUE && region != open) {
                    total += part;
                    part = 0;
                    open = Long.MIN_VALUE;
                }
                // the kernel: c += (chain of ≤ CHUNK fmas from 0) per chunk of the block
                float c = open == Long.MIN_VALUE ? 0 : part;
                for (int c0 = 0; c0 < blk[1]; c0 += CHUNK) {
                    float acc = 0;
                    for (int t = t0 + c0; t < t0 + Math.min(blk[1], c0 + CHUNK); t++) {
                        acc = Math.fma(x.a()[t], x.b()[t * x.width() + e], acc);
                    }
                    c += acc;
                }
                boolean wholeRegion = t0 % CHUNK == 0 && blk[1] == Math.min(CHUNK, x.n() - t0);
                if (open == Long.MIN_VALUE && wholeRegion) {
                    total += c; // straight into the total: (0 + x) + total = total + x
                } else {
                    part = c;
                    open = region;
                }
            }
            out[e] = total + part;
        }
        return out;
    }

    @Property
    void anySplitGivesTheTwoLevelSum(@ForAll long seed, @ForAll @IntRange(min = 1, max = 1100) int n,
            @ForAll @IntRange(min = 1, max = 400) int maxBlock) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Terms x = Terms.random(rnd, n, 3);
        List<int[]> blocks = split(rnd, n, maxBlock);
        assertArrayEquals(model(x, blocks), sum(new ChunkedSum(3), 0, x, blocks, null));
    }

    @Property
    void zeroBlocksChangeNothingWhetherAbsorbedOrSkipped(@ForAll long seed,
            @ForAll @IntRange(min = 1, max = 1100) int n, @ForAll @IntRange(min = 1, max = 300) int maxBlock) {
        SplittableRandom rnd = new SplittableRandom(seed);
        List<int[]> blocks = split(rnd, n, maxBlock);
        boolean[] zero = new boolean[blocks.size()];
        for (int i = 0; i < zero.length; i++) {
            zero[i] = rnd.nextInt(3) == 0;
        }
        Terms x = Terms.random(rnd, n, 2).withZeroBlocks(blocks, zero);
        float[] absorbed = sum(new ChunkedSum(2), 0, x, blocks, null);
        float[] skipped = sum(new ChunkedSum(2), 0, x, blocks, zero);
        assertArrayEquals(absorbed, skipped);
    }

    @Property
    void wholeRegionBlocksGiveTheBitsOfOneBlock(@ForAll long seed, @ForAll @IntRange(min = 1, max = 1100) int n) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Terms x = Terms.random(rnd, n, 4);
        List<int[]> regions = new ArrayList<>();
        for (int t = 0; t < n; t += CHUNK) {
            regions.add(new int[] {t, Math.min(CHUNK, n - t)});
        }
        float[] one = sum(new ChunkedSum(4), 0, x, List.<int[]>of(new int[] {0, n}), null);
        assertArrayEquals(one, sum(new ChunkedSum(4), 0, x, regions, null));
        // and the kernel alone over the whole sequence, from zero
        float[] kernel = new float[4];
        Kernels.scalar().accumulateProduct(x.a(), 1, n, x.b(), 0, 4, kernel, 0);
        assertArrayEquals(kernel, one);
    }

    @Property
    void anySplitStaysWithinTheChunkedErrorBound(@ForAll long seed, @ForAll @IntRange(min = 1, max = 3000) int n,
            @ForAll @IntRange(min = 1, max = 600) int maxBlock) {
        SplittableRandom rnd = new SplittableRandom(seed);
        Terms x = Terms.random(rnd, n, 3);
        float[] got = sum(new ChunkedSum(3), 0, x, split(rnd, n, maxBlock), null);
        double k = CHUNK + 2.0 * n / CHUNK + 2;
        double gamma = k * U / (1 - k * U);
        for (int e = 0; e < 3; e++) {
            double err = Math.abs(got[e] - x.exact(e));
            assertTrue(err <= gamma * x.magnitude(e), "n=" + n + " error " + err + " > " + gamma * x.magnitude(e));
        }
    }

    @Property
    void sequencesNeverShareARegion(@ForAll long seed, @ForAll @IntRange(min = 1, max = 300) int n) {
        // two sequences (ring shards) one after the other into one sum: the same bits as summing
        // each apart and adding the two results, because the part is folded between them
        SplittableRandom rnd = new SplittableRandom(seed);
        Terms x = Terms.random(rnd, n, 2);
        Terms y = Terms.random(rnd, n, 2);
        List<int[]> bx = split(rnd, n, 50);
        List<int[]> by = split(rnd, n, 50);
        ChunkedSum both = new ChunkedSum(2);
        both.reset(2);
        add(both, 0, x, bx, null);
        add(both, 1, y, by, null);
        float[] got = new float[2];
        both.store(got, 0, 2);
        float[] sx = model(x, bx);
        float[] sy = model(y, by);
        // y's sum starts on top of x's folded total: the model of y with x's total carried in
        ChunkedSum carried = new ChunkedSum(2);
        carried.load(sx, 0, 2);
        add(carried, 1, y, by, null);
        float[] want = new float[2];
        carried.store(want, 0, 2);
        assertArrayEquals(want, got);
        if (n <= CHUNK) {
            for (int e = 0; e < 2; e++) {
                // one region per sequence: the total is exactly sx + sy
                assertEquals(sx[e] + sy[e], got[e]);
            }
        }
    }

    @Test
    void aWholeRegionWithAnEmptyPartGoesStraightToTheTotal() {
        ChunkedSum s = new ChunkedSum(4);
        s.reset(4);
        assertSame(s.total, s.target(0, 0, CHUNK, 1000));
        assertSame(s.total, s.target(0, CHUNK, CHUNK, 1000));
        assertSame(s.total, s.target(0, 896, 104, 1000), "the short last region of a sequence");
        assertSame(s.part, s.target(0, 0, CHUNK - 1, 1000), "a block shorter than its region");
        assertSame(s.part, s.target(0, 1, 10, 1000), "the same region stays open");
        assertSame(s.total, s.target(0, 2 * CHUNK, CHUNK, 1000), "an open part is folded first, then a whole region");
        assertSame(s.part, s.target(0, 0, 2 * CHUNK, 2 * CHUNK), "two regions at once: the part");
    }

    @Test
    void scaleMultipliesBothLevelsOfTheRange() {
        ChunkedSum s = new ChunkedSum(4);
        s.reset(4);
        s.total[0] = 1;
        s.total[1] = 2;
        s.total[2] = 3;
        float[] part = s.target(0, 5, 1, 100);
        assertSame(s.part, part);
        part[1] = 10;
        part[2] = 20;
        s.scale(1, 2, 0.5f);
        assertArrayEquals(new float[] {1, 1, 1.5f, 0}, s.total);
        assertArrayEquals(new float[] {0, 5, 10, 0}, s.part);
        s.fold();
        assertArrayEquals(new float[] {1, 6, 11.5f, 0}, s.total);
        assertArrayEquals(new float[4], s.part);
        s.scale(0, 4, 2f); // nothing open: the part is not touched (it is all zero)
        assertArrayEquals(new float[] {2, 12, 23, 0}, s.total);
    }

    @Test
    void viewsTouchOnlyTheirElements() {
        float[] total = new float[10];
        float[] part = new float[10];
        ChunkedSum left = new ChunkedSum(total, part, 2, 3);
        ChunkedSum right = new ChunkedSum(total, part, 5, 3);
        java.util.Arrays.fill(total, 7f);
        left.reset(3);
        right.reset(3);
        assertArrayEquals(new float[] {7, 7, 0, 0, 0, 0, 0, 0, 7, 7}, total);
        float[] t = left.target(0, 3, 2, 100);
        Kernels.scalar().accumulateProduct(new float[] {1, 1}, 1, 2, new float[] {1, 2, 3, 4, 5, 6}, 0, 3, t,
                left.base);
        right.fold(); // nothing open in the right view: its fold leaves the left's part alone
        assertArrayEquals(new float[] {0, 0, 5, 7, 9, 0, 0, 0, 0, 0}, part);
        left.scale(1, 1, 2f);
        float[] out = new float[5];
        left.store(out, 1, 3);
        assertArrayEquals(new float[] {0, 5, 14, 9, 0}, out);
        assertArrayEquals(new float[] {7, 7, 5, 14, 9, 0, 0, 0, 7, 7}, total);
        assertArrayEquals(new float[10], part);
        right.load(new float[] {9, 1, 2, 3}, 1, 3);
        assertArrayEquals(new float[] {7, 7, 5, 14, 9, 1, 2, 3, 7, 7}, total);
    }

    @Test
    void resetDiscardsAnOpenPart() {
        // a sum abandoned with a region open (a pass that failed between absorb and store)
        ChunkedSum s = new ChunkedSum(3);
        s.reset(3);
        float[] part = s.target(0, 5, 1, 100);
        assertSame(s.part, part);
        part[0] = 1;
        part[2] = 4;
        s.total[1] = 8;
        s.reset(3);
        assertArrayEquals(new float[3], s.total);
        assertArrayEquals(new float[3], s.part);
        s.fold(); // nothing open after a reset: a fold adds nothing
        float[] t = s.target(0, 5, 1, 100);
        t[2] += 2;
        float[] out = new float[3];
        s.store(out, 0, 3);
        assertArrayEquals(new float[] {0, 0, 2}, out);
    }
}
