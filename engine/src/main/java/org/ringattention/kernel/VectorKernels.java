package org.ringattention.kernel;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernels on the Vector API at the preferred species, register-tiled: each tile method keeps its
 * accumulators in local variables of one method (vectors passed across calls that are not
 * inlined would be boxed) and touches memory only to load a vector of keys or values and to
 * broadcast one scalar per row.
 *
 * <ul>
 *   <li>{@link #scoreTile}: 4 query rows × 4 vectors of keys (64 scores at 16 lanes) per tile;
 *       per step k, four key vectors are loaded from the transposed block, four query elements
 *       broadcast, and 16 fused multiply-adds issued. The keys are taken in strips of at most 32 KB
 *       of the packed block ({@link #scoreStrip}: the whole block up to 128 keys at d = 64, 64
 *       keys at d = 128), and every group of four rows passes a strip before the next: a 128-key
 *       block at d = 128 (64 KB) does not fit the 48 KB L1 of a Zen 5 core and was read from L2
 *       again for every row group. One method runs a group of four rows over a strip, so that the
 *       rows' maxima stay in registers across its tiles. (Why not a 6 × 4 tile: docs/performance.md.)
 *   <li>{@link #accumulateProduct} and {@link #accumulateTransposedProduct}: 8 output rows × 2
 *       vectors along d; per step, eight weights broadcast and two vectors of the right-hand block
 *       loaded; strips of two vectors outside, rows inside, so a strip of the right-hand block stays
 *       in L1. The two differ only in where the weights sit (row or column of P) and have one tile
 *       method each: the weight index must have stride 1 or constant offsets for C2 to drop its
 *       range checks.
 *   <li>{@link #expShifted}: {@link PolynomialExp}'s operations lane by lane; partial sums in
 *       16 / lanes accumulators so that value t lands in partial sum t mod 16 at every width,
 *       then the fixed tree of {@link Kernels#expShifted} by lane rotations. A vector whose
 *       lanes all lie in [−86, 87] (in attention, all but masked or very distant scores) takes a
 *       short path, one scale factor 2ⁿ and no clamps, with the same bits ({@link #exp(FloatVector)}).
 * </ul>
 * Tails (rows not a multiple of the tile height, lengths not a multiple of the lane count) use narrower tiles
 * and masked loads and stores. Every element is computed with the operations and order that
 * {@link Kernels} prescribes, so results equal {@link ScalarKernels}' bit for bit.
 */
public final class VectorKernels implements Kernels {

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    private static final int L = F.length();
    private static final VectorSpecies<Integer> I = F.withLanes(int.class);
    private static final int EXPONENT = 0x7f800000;
    private static final int EXPONENT_ONE = 0x00800000;
    private static final int MR = 4;
    private static final int NR = 4;
    private static final int STRIP_BYTES = 32 * 1024;

    static final VectorKernels INSTANCE = new VectorKernels();

    private VectorKernels() {
        if (SUM_LANES % L != 0) {
            throw new UnsupportedOperationException("vector width of " + L + " floats does not divide " + SUM_LANES);
        }
    }

    /** Lanes per float vector at the preferred species. */
    public static int lanes() {
        return L;
    }

    @Override
    public String name() {
        return "vector-" + F.vectorBitSize();
    }

    @Override
    public void packTransposed(float[] src, int srcOff, int rows, int d, float[] dst, int dstOff) {
        for (int k = 0; k < d; k++) {
            int dk = dstOff + k * rows;
            for (int c = 0; c < rows; c++) {
                dst[dk + c] = src[srcOff + c * d + k];
            }
        }
    }

    /**
     * Keys per strip of {@link #scoreTile}: a multiple of the tile width whose packed keys
     * (d × strip floats) fit in 32 KB, so that a strip stays in L1 while all query rows pass it.
     */
    static int scoreStrip(int d) {
        int tile = NR * L;
        return Math.max(tile, STRIP_BYTES / Float.BYTES / Math.max(1, d) / tile * tile);
    }

    @Override
    public void scoreTile(float[] q, int qOff, int rows, float[] kT, int kOff, int cols, int d, float scale,
            float[] s, float[] rowMax) {
        float[] mx = rowMax;
        if (mx != null) {
            java.util.Arrays.fill(mx, 0, rows, Float.NEGATIVE_INFINITY);
        }
        int strip = scoreStrip(d);
        for (int c0 = 0; c0 < cols; c0 += strip) {
            int c1 = Math.min(cols, c0 + strip);
            int r = 0;
            for (; r + MR <= rows; r += MR) {
                scoreRows4(q, qOff + r * d, kT, kOff, c0, c1, cols, d, scale, s, r * cols, mx, r);
            }
            for (; r < rows; r++) {
                for (int c = c0; c < c1; c += L) {
                    scores1x1(q, qOff + r * d, kT, kOff + c, cols, d, scale, s, r * cols + c, F.indexInRange(c, c1), mx,
                            r);
                }
            }
        }
    }

    /**
     * Four query rows against the keys [c0, c1) of a block of {@code cols} keys: 4 × 4 register
     * tiles (64 scores at 16 lanes) along the keys, then masked 4 × 1 tiles for the tail. The
     * rows' maxima are kept as four vectors across the tiles and reduced once per strip: a lane
     * reduction per tile measured about 5% of the kernel at d = 128.
     */
    private static void scoreRows4(float[] q, int q0, float[] kT, int k0, int c0, int c1, int cols, int d, float scale,
            float[] s, int s0, float[] mx, int r) {
        FloatVector m0 = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY), m1 = m0, m2 = m0, m3 = m0;
        int q1 = q0 + d;
        int q2 = q1 + d;
        int q3 = q2 + d;
        int c = c0;
        for (; c + NR * L <= c1; c += NR * L) {
            FloatVector a00 = FloatVector.zero(F), a01 = a00, a02 = a00, a03 = a00;
            FloatVector a10 = a00, a11 = a00, a12 = a00, a13 = a00;
            FloatVector a20 = a00, a21 = a00, a22 = a00, a23 = a00;
            FloatVector a30 = a00, a31 = a00, a32 = a00, a33 = a00;
            for (int k = 0; k < d; k++) {
                int kb = k0 + c + k * cols;
                FloatVector kv0 = FloatVector.fromArray(F, kT, kb);
                FloatVector kv1 = FloatVector.fromArray(F, kT, kb + L);
                FloatVector kv2 = FloatVector.fromArray(F, kT, kb + 2 * L);
                FloatVector kv3 = FloatVector.fromArray(F, kT, kb + 3 * L);
                FloatVector b = FloatVector.broadcast(F, q[q0 + k]);
                a00 = kv0.fma(b, a00);
                a01 = kv1.fma(b, a01);
                a02 = kv2.fma(b, a02);
                a03 = kv3.fma(b, a03);
                b = FloatVector.broadcast(F, q[q1 + k]);
                a10 = kv0.fma(b, a10);
                a11 = kv1.fma(b, a11);
                a12 = kv2.fma(b, a12);
                a13 = kv3.fma(b, a13);
                b = FloatVector.broadcast(F, q[q2 + k]);
                a20 = kv0.fma(b, a20);
                a21 = kv1.fma(b, a21);
                a22 = kv2.fma(b, a22);
                a23 = kv3.fma(b, a23);
                b = FloatVector.broadcast(F, q[q3 + k]);
                a30 = kv0.fma(b, a30);
                a31 = kv1.fma(b, a31);
                a32 = kv2.fma(b, a32);
                a33 = kv3.fma(b, a33);
            }
            a00 = a00.mul(scale);
            a01 = a01.mul(scale);
            a02 = a02.mul(scale);
            a03 = a03.mul(scale);
            a10 = a10.mul(scale);
            a11 = a11.mul(scale);
            a12 = a12.mul(scale);
            a13 = a13.mul(scale);
            a20 = a20.mul(scale);
            a21 = a21.mul(scale);
            a22 = a22.mul(scale);
            a23 = a23.mul(scale);
            a30 = a30.mul(scale);
            a31 = a31.mul(scale);
            a32 = a32.mul(scale);
            a33 = a33.mul(scale);
            int t0 = s0 + c;
            int t1 = t0 + cols;
            int t2 = t1 + cols;
            int t3 = t2 + cols;
            a00.intoArray(s, t0);
            a01.intoArray(s, t0 + L);
            a02.intoArray(s, t0 + 2 * L);
            a03.intoArray(s, t0 + 3 * L);
            a10.intoArray(s, t1);
            a11.intoArray(s, t1 + L);
            a12.intoArray(s, t1 + 2 * L);
            a13.intoArray(s, t1 + 3 * L);
            a20.intoArray(s, t2);
            a21.intoArray(s, t2 + L);
            a22.intoArray(s, t2 + 2 * L);
            a23.intoArray(s, t2 + 3 * L);
            a30.intoArray(s, t3);
            a31.intoArray(s, t3 + L);
            a32.intoArray(s, t3 + 2 * L);
            a33.intoArray(s, t3 + 3 * L);
            if (mx != null) {
                m0 = m0.max(a00.max(a01).max(a02).max(a03));
                m1 = m1.max(a10.max(a11).max(a12).max(a13));
                m2 = m2.max(a20.max(a21).max(a22).max(a23));
                m3 = m3.max(a30.max(a31).max(a32).max(a33));
            }
        }
        for (; c < c1; c += L) {
            VectorMask<Float> m = F.indexInRange(c, c1);
            FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
            for (int k = 0; k < d; k++) {
                FloatVector kv = FloatVector.fromArray(F, kT, k0 + c + k * cols, m);
                a0 = kv.fma(FloatVector.broadcast(F, q[q0 + k]), a0);
                a1 = kv.fma(FloatVector.broadcast(F, q[q1 + k]), a1);
                a2 = kv.fma(FloatVector.broadcast(F, q[q2 + k]), a2);
                a3 = kv.fma(FloatVector.broadcast(F, q[q3 + k]), a3);
            }
            a0 = a0.mul(scale);
            a1 = a1.mul(scale);
            a2 = a2.mul(scale);
            a3 = a3.mul(scale);
            a0.intoArray(s, s0 + c, m);
            a1.intoArray(s, s0 + cols + c, m);
            a2.intoArray(s, s0 + 2 * cols + c, m);
            a3.intoArray(s, s0 + 3 * cols + c, m);
            if (mx != null) { // lanes past the end keep −∞
                m0 = m0.lanewise(VectorOperators.MAX, a0, m);
                m1 = m1.lanewise(VectorOperators.MAX, a1, m);
                m2 = m2.lanewise(VectorOperators.MAX, a2, m);
                m3 = m3.lanewise(VectorOperators.MAX, a3, m);
            }
        }
        if (mx != null) { // max is exact: the order of the lane reduction does not matter
            mx[r] = Math.max(mx[r], m0.reduceLanes(VectorOperators.MAX));
            mx[r + 1] = Math.max(mx[r + 1], m1.reduceLanes(VectorOperators.MAX));
            mx[r + 2] = Math.max(mx[r + 2], m2.reduceLanes(VectorOperators.MAX));
            mx[r + 3] = Math.max(mx[r + 3], m3.reduceLanes(VectorOperators.MAX));
        }
    }

    private static void scores1x1(float[] q, int q0, float[] kT, int k0, int cols, int d, float scale, float[] s,
            int s0, VectorMask<Float> m, float[] mx, int r) {
        FloatVector a = FloatVector.zero(F);
        for (int k = 0; k < d; k++) {
            a = FloatVector.fromArray(F, kT, k0 + k * cols, m).fma(FloatVector.broadcast(F, q[q0 + k]), a);
        }
        a = a.mul(scale);
        a.intoArray(s, s0, m);
        if (mx != null) {
            mx[r] = Math.max(mx[r], a.reduceLanes(VectorOperators.MAX, m));
        }
    }

    @Override
    public float max(float[] x, int off, int len) {
        FloatVector m = FloatVector.broadcast(F, Float.NEGATIVE_INFINITY);
        int t = 0;
        for (; t + L <= len; t += L) {
            m = m.max(FloatVector.fromArray(F, x, off + t));
        }
        float result = m.reduceLanes(VectorOperators.MAX); // exact: order does not matter
        for (; t < len; t++) {
            result = Math.max(result, x[off + t]);
        }
        return result;
    }

    /**
     * An element is NaN or ±∞ when its exponent bits are all ones, that is when
     * {@code (bits & 0x7f800000) + 0x00800000} carries into the sign bit; the OR of that over all
     * elements is negative exactly when one is not finite. Integer operations only: no branch per
     * vector, no floating-point compare.
     */
    @Override
    public boolean allFinite(float[] x, int off, int len) {
        IntVector any = IntVector.zero(I);
        int t = 0;
        for (; t + L <= len; t += L) {
            any = any.or(FloatVector.fromArray(F, x, off + t).viewAsIntegralLanes().and(EXPONENT).add(EXPONENT_ONE));
        }
        if (t < len) {
            VectorMask<Float> m = F.indexInRange(t, len);
            any = any.or(FloatVector.fromArray(F, x, off + t, m).viewAsIntegralLanes().and(EXPONENT).add(EXPONENT_ONE));
        }
        return any.reduceLanes(VectorOperators.OR) >= 0;
    }

    @Override
    public float expShifted(float[] x, int off, int len, float shift) {
        if (L < 8) {
            return ScalarKernels.INSTANCE.expShifted(x, off, len, shift); // same bits, narrow hardware only
        }
        // Partial sum t mod 16 of the interface is lane (t mod L) of accumulator (t / L) mod (16 / L).
        FloatVector sh = FloatVector.broadcast(F, shift);
        FloatVector s0 = FloatVector.zero(F);
        FloatVector s1 = s0;
        int t = 0;
        if (L == SUM_LANES) {
            // Constants in locals: broadcast once before the loop (static final vectors measured
            // about 20% slower here, loaded from their boxes in the loop).
            FloatVector lowest = FloatVector.broadcast(F, PolynomialExp.LOWEST);
            FloatVector highest = FloatVector.broadcast(F, PolynomialExp.HIGHEST);
            FloatVector safeLo = FloatVector.broadcast(F, EXP_SAFE_LO);
            FloatVector safeHi = FloatVector.broadcast(F, EXP_SAFE_HI);
            FloatVector log2e = FloatVector.broadcast(F, PolynomialExp.LOG2E);
            FloatVector round = FloatVector.broadcast(F, PolynomialExp.ROUND);
            FloatVector minusLn2Hi = FloatVector.broadcast(F, -PolynomialExp.LN2_HI);
            FloatVector minusLn2Lo = FloatVector.broadcast(F, -PolynomialExp.LN2_LO);
            FloatVector c7 = FloatVector.broadcast(F, PolynomialExp.C7);
            FloatVector c6 = FloatVector.broadcast(F, PolynomialExp.C6);
            FloatVector c5 = FloatVector.broadcast(F, PolynomialExp.C5);
            FloatVector c4 = FloatVector.broadcast(F, PolynomialExp.C4);
            FloatVector c3 = FloatVector.broadcast(F, PolynomialExp.C3);
            FloatVector c2 = FloatVector.broadcast(F, PolynomialExp.C2);
            FloatVector one = FloatVector.broadcast(F, 1f);
            FloatVector zero = FloatVector.zero(F);
            FloatVector top = FloatVector.broadcast(F, EXP_HIGHEST);
            for (; t + L <= len; t += L) {
                // exp(x − shift), written out: a call of exp() that C2 does not inline boxes vectors
                FloatVector y = FloatVector.fromArray(F, x, off + t).sub(sh);
                VectorMask<Float> safe = y.compare(VectorOperators.GE, safeLo)
                        .and(y.compare(VectorOperators.LE, safeHi)); // false for NaN
                FloatVector tt = y.fma(log2e, round);
                FloatVector n = tt.sub(round);
                FloatVector r = n.fma(minusLn2Hi, y);
                r = n.fma(minusLn2Lo, r);
                FloatVector p = c7.fma(r, c6);
                p = p.fma(r, c5);
                p = p.fma(r, c4);
                p = p.fma(r, c3);
                p = p.fma(r, c2);
                p = p.fma(r, one);
                p = p.fma(r, one);
                if (safe.allTrue()) { // the short path of exp(FloatVector): p · 2ⁿ, exact
                    p = p.mul(tt.viewAsIntegralLanes().add(127 - PolynomialExp.ROUND_BITS)
                            .lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes());
                } else {
                    VectorMask<Float> under = y.compare(VectorOperators.LT, lowest);
                    VectorMask<Float> over = y.compare(VectorOperators.GT, highest);
                    IntVector e = tt.viewAsIntegralLanes().sub(PolynomialExp.ROUND_BITS)
                            .blend(0, under.or(over).cast(I)); // no subnormal factors in clamped lanes
                    IntVector e1 = e.lanewise(VectorOperators.ASHR, 1);
                    IntVector e2 = e.sub(e1);
                    p = p.mul(e1.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes())
                            .mul(e2.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes());
                    p = p.blend(zero, under).blend(top, over);
                }
                p.intoArray(x, off + t);
                s0 = s0.add(p);
            }
        } else {
            for (; t + 2 * L <= len; t += 2 * L) {
                FloatVector e = exp(FloatVector.fromArray(F, x, off + t).sub(sh));
                e.intoArray(x, off + t);
                s0 = s0.add(e);
                e = exp(FloatVector.fromArray(F, x, off + t + L).sub(sh));
                e.intoArray(x, off + t + L);
                s1 = s1.add(e);
            }
        }
        for (; t < len; t += L) {
            VectorMask<Float> m = F.indexInRange(t, len);
            FloatVector e = exp(FloatVector.fromArray(F, x, off + t, m).sub(sh));
            e.intoArray(x, off + t, m);
            e = e.blend(0f, m.not());
            if (L == SUM_LANES || (t / L) % 2 == 0) {
                s0 = s0.add(e);
            } else {
                s1 = s1.add(e);
            }
        }
        // The fixed tree of the interface, p[j] += p[j + w] for w = 8, 4, 2, 1, by lane rotations
        // (only lanes below w are read afterwards, so the wrapped-around lanes do not matter).
        FloatVector v = L == SUM_LANES ? s0.add(s0.rearrange(ROTATE_8)) : s0.add(s1);
        v = v.add(v.rearrange(ROTATE_4));
        v = v.add(v.rearrange(ROTATE_2));
        v = v.add(v.rearrange(ROTATE_1));
        return v.lane(0);
    }

    private static final VectorShuffle<Float> ROTATE_8 = VectorShuffle.iota(F, 8 % L, 1, true);
    private static final VectorShuffle<Float> ROTATE_4 = VectorShuffle.iota(F, 4 % L, 1, true);
    private static final VectorShuffle<Float> ROTATE_2 = VectorShuffle.iota(F, 2 % L, 1, true);
    private static final VectorShuffle<Float> ROTATE_1 = VectorShuffle.iota(F, 1, 1, true);

    private static final FloatVector LOWEST = FloatVector.broadcast(F, PolynomialExp.LOWEST);
    private static final FloatVector HIGHEST = FloatVector.broadcast(F, PolynomialExp.HIGHEST);
    private static final FloatVector LOG2E = FloatVector.broadcast(F, PolynomialExp.LOG2E);
    private static final FloatVector ROUND = FloatVector.broadcast(F, PolynomialExp.ROUND);
    private static final FloatVector MINUS_LN2_HI = FloatVector.broadcast(F, -PolynomialExp.LN2_HI);
    private static final FloatVector MINUS_LN2_LO = FloatVector.broadcast(F, -PolynomialExp.LN2_LO);
    private static final FloatVector C7 = FloatVector.broadcast(F, PolynomialExp.C7);
    private static final FloatVector C6 = FloatVector.broadcast(F, PolynomialExp.C6);
    private static final FloatVector C5 = FloatVector.broadcast(F, PolynomialExp.C5);
    private static final FloatVector C4 = FloatVector.broadcast(F, PolynomialExp.C4);
    private static final FloatVector C3 = FloatVector.broadcast(F, PolynomialExp.C3);
    private static final FloatVector C2 = FloatVector.broadcast(F, PolynomialExp.C2);
    private static final FloatVector ONE = FloatVector.broadcast(F, 1f);
    private static final float EXP_HIGHEST = PolynomialExp.exp(PolynomialExp.HIGHEST);

    /** Bounds of the short path of the vector exp, where n ∈ [−124, 126]: see {@link #exp(FloatVector)}. */
    static final float EXP_SAFE_LO = -86f;
    static final float EXP_SAFE_HI = 87f;
    private static final FloatVector SAFE_LO = FloatVector.broadcast(F, EXP_SAFE_LO);
    private static final FloatVector SAFE_HI = FloatVector.broadcast(F, EXP_SAFE_HI);

    /**
     * {@link PolynomialExp#exp} lane by lane, with the same results. Constants are vectors:
     * scalar operands of lanewise operations measured several times slower here. The clamp of x to
     * [LOWEST, HIGHEST] is done at the end instead: lanes below LOWEST become 0 = exp(LOWEST) and
     * lanes above HIGHEST exp(HIGHEST), by two compares that run beside the polynomial and two
     * blends, so the clamp adds two operations to the chain of dependent ones instead of four
     * (the exp is latency-bound: its chain is some 60 cycles long). NaN compares false and stays
     * NaN, as Math.max/min keep it. Clamped lanes scale by 2⁰: the scale factors of their own
     * exponent would be garbage, often subnormal, and a multiplication with a subnormal operand or
     * result takes a microcode assist (docs/performance.md). Lanes whose true result is
     * subnormal, [LOWEST, −87.3], still take it: their bits are kept.
     *
     * <p>Short path: when every lane lies in [{@link #EXP_SAFE_LO}, {@link #EXP_SAFE_HI}] = [−86, 87]
     * (NaN fails both compares and takes the full path), n = round(x·log₂e) ∈ [−124, 126]
     * (−86·log₂e = −124.07, 87·log₂e = 125.51), so t = 1.5·2²³ + n has bits ROUND_BITS + n and
     * 2ⁿ is the normal float of bits (bits(t) − ROUND_BITS + 127) &lt;&lt; 23: one add, one shift, one
     * multiply, and no blends (the clamps do not apply inside [LOWEST, HIGHEST]). The same bits as
     * the full path: p ∈ [0.70, 1.42] (|r| ≤ ln2/2), so p·2^⌊n/2⌋ and p·2ⁿ are normal floats and
     * multiplying by a power of two with a normal result is exact, in either order.
     */
    private static FloatVector exp(FloatVector x) {
        VectorMask<Float> safe = x.compare(VectorOperators.GE, SAFE_LO).and(x.compare(VectorOperators.LE, SAFE_HI));
        FloatVector t = x.fma(LOG2E, ROUND);
        FloatVector n = t.sub(ROUND);
        FloatVector r = n.fma(MINUS_LN2_HI, x);
        r = n.fma(MINUS_LN2_LO, r);
        FloatVector p = C7.fma(r, C6);
        p = p.fma(r, C5);
        p = p.fma(r, C4);
        p = p.fma(r, C3);
        p = p.fma(r, C2);
        p = p.fma(r, ONE);
        p = p.fma(r, ONE);
        if (safe.allTrue()) {
            return p.mul(t.viewAsIntegralLanes().add(127 - PolynomialExp.ROUND_BITS)
                    .lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes());
        }
        VectorMask<Float> under = x.compare(VectorOperators.LT, LOWEST);
        VectorMask<Float> over = x.compare(VectorOperators.GT, HIGHEST);
        IntVector e = t.viewAsIntegralLanes().sub(PolynomialExp.ROUND_BITS)
                .blend(0, under.or(over).cast(I)); // no subnormal factors in clamped lanes
        IntVector e1 = e.lanewise(VectorOperators.ASHR, 1);
        IntVector e2 = e.sub(e1);
        FloatVector f1 = e1.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes();
        FloatVector f2 = e2.add(127).lanewise(VectorOperators.LSHL, 23).viewAsFloatingLanes();
        return p.mul(f1).mul(f2).blend(0f, under).blend(EXP_HIGHEST, over);
    }

    @Override
    public void accumulateProduct(float[] p, int rows, int inner, float[] b, int bOff, int n, float[] c, int cOff) {
        product(p, rows, inner, 1, inner, b, bOff, n, c, cOff);
    }

    @Override
    public void accumulateTransposedProduct(float[] p, int rows, int cols, float[] b, int bOff, int n, float[] c,
            int cOff) {
        product(p, cols, 1, cols, rows, b, bOff, n, c, cOff);
    }

    /**
     * c[cOff + i·n + x] += Σ_u w(i, u) · b[bOff + u·n + x] for i &lt; outRows, u &lt; steps, with the weight
     * w(i, u) = p[i·rowStride + u·stepStride], summed in chunks of {@link #CHUNK} steps.
     */
    private static void product(float[] p, int outRows, int rowStride, int stepStride, int steps, float[] b, int bOff,
            int n, float[] c, int cOff) {
        for (int u0 = 0; u0 < steps; u0 += CHUNK) {
            int u1 = Math.min(steps, u0 + CHUNK);
            int x = 0;
            // Strips of 2 vectors along n outside, rows inside: the strip of B (CHUNK × 2L floats,
            // 16 KB at 16 lanes) stays in L1 while every row group streams past it.
            for (; x + 2 * L <= n; x += 2 * L) {
                int i = 0;
                for (; i + 8 <= outRows; i += 8) {
                    if (stepStride == 1) {
                        productRows8x2(p, i * rowStride, rowStride, u0, u1, b, bOff + x, n, c, cOff + i * n + x);
                    } else {
                        productColumns8x2(p, i, stepStride, u0, u1, b, bOff + x, n, c, cOff + i * n + x);
                    }
                }
                for (; i < outRows; i++) {
                    product1x1(p, i * rowStride, stepStride, u0, u1, b, bOff + x, n, c, cOff + i * n + x, F.maskAll(true));
                    product1x1(p, i * rowStride, stepStride, u0, u1, b, bOff + x + L, n, c, cOff + i * n + x + L,
                            F.maskAll(true));
                }
            }
            for (; x < n; x += L) {
                VectorMask<Float> m = F.indexInRange(x, n);
                int i = 0;
                for (; i + MR <= outRows; i += MR) {
                    product4x1(p, i * rowStride, rowStride, stepStride, u0, u1, b, bOff + x, n, c, cOff + i * n + x, m);
                }
                for (; i < outRows; i++) {
                    product1x1(p, i * rowStride, stepStride, u0, u1, b, bOff + x, n, c, cOff + i * n + x, m);
                }
            }
        }
    }

    /**
     * 8 rows × 2 vectors of C += P B with the weights along rows of P (row i at p0 + i·rowStride, step
     * u at + u). The step index has stride 1, so C2 removes the range checks of the weight loads
     * from the loop; a variable stride keeps them and measured about 20% slower.
     */
    private static void productRows8x2(float[] p, int p0, int rowStride, int u0, int u1, float[] b, int b0,
            int n, float[] c, int c0) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        FloatVector a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        FloatVector a60 = a00, a61 = a00, a70 = a00, a71 = a00;
        for (int u = u0; u < u1; u++) {
            int bb = b0 + u * n;
            FloatVector v0 = FloatVector.fromArray(F, b, bb);
            FloatVector v1 = FloatVector.fromArray(F, b, bb + L);
            int pu = p0 + u;
            FloatVector w = FloatVector.broadcast(F, p[pu]);
            a00 = v0.fma(w, a00);
            a01 = v1.fma(w, a01);
            w = FloatVector.broadcast(F, p[pu + rowStride]);
            a10 = v0.fma(w, a10);
            a11 = v1.fma(w, a11);
            w = FloatVector.broadcast(F, p[pu + 2 * rowStride]);
            a20 = v0.fma(w, a20);
            a21 = v1.fma(w, a21);
            w = FloatVector.broadcast(F, p[pu + 3 * rowStride]);
            a30 = v0.fma(w, a30);
            a31 = v1.fma(w, a31);
            w = FloatVector.broadcast(F, p[pu + 4 * rowStride]);
            a40 = v0.fma(w, a40);
            a41 = v1.fma(w, a41);
            w = FloatVector.broadcast(F, p[pu + 5 * rowStride]);
            a50 = v0.fma(w, a50);
            a51 = v1.fma(w, a51);
            w = FloatVector.broadcast(F, p[pu + 6 * rowStride]);
            a60 = v0.fma(w, a60);
            a61 = v1.fma(w, a61);
            w = FloatVector.broadcast(F, p[pu + 7 * rowStride]);
            a70 = v0.fma(w, a70);
            a71 = v1.fma(w, a71);
        }
        // c += a, written out: a helper taking vectors would box them when not inlined
        int ci = c0;
        FloatVector.fromArray(F, c, ci).add(a00).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a01).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a10).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a11).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a20).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a21).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a30).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a31).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a40).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a41).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a50).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a51).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a60).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a61).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a70).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a71).intoArray(c, ci + L);
    }

    /**
     * 8 rows × 2 vectors of C += Pᵀ B: the weights of the 8 output rows are 8 adjacent floats of a
     * row of P (p0 + u·stepStride + 0..7). Constant offsets let C2 merge their range checks into one.
     */
    private static void productColumns8x2(float[] p, int p0, int stepStride, int u0, int u1, float[] b, int b0,
            int n, float[] c, int c0) {
        FloatVector a00 = FloatVector.zero(F), a01 = a00, a10 = a00, a11 = a00;
        FloatVector a20 = a00, a21 = a00, a30 = a00, a31 = a00;
        FloatVector a40 = a00, a41 = a00, a50 = a00, a51 = a00;
        FloatVector a60 = a00, a61 = a00, a70 = a00, a71 = a00;
        for (int u = u0; u < u1; u++) {
            int bb = b0 + u * n;
            FloatVector v0 = FloatVector.fromArray(F, b, bb);
            FloatVector v1 = FloatVector.fromArray(F, b, bb + L);
            int pu = p0 + u * stepStride;
            FloatVector w = FloatVector.broadcast(F, p[pu]);
            a00 = v0.fma(w, a00);
            a01 = v1.fma(w, a01);
            w = FloatVector.broadcast(F, p[pu + 1]);
            a10 = v0.fma(w, a10);
            a11 = v1.fma(w, a11);
            w = FloatVector.broadcast(F, p[pu + 2]);
            a20 = v0.fma(w, a20);
            a21 = v1.fma(w, a21);
            w = FloatVector.broadcast(F, p[pu + 3]);
            a30 = v0.fma(w, a30);
            a31 = v1.fma(w, a31);
            w = FloatVector.broadcast(F, p[pu + 4]);
            a40 = v0.fma(w, a40);
            a41 = v1.fma(w, a41);
            w = FloatVector.broadcast(F, p[pu + 5]);
            a50 = v0.fma(w, a50);
            a51 = v1.fma(w, a51);
            w = FloatVector.broadcast(F, p[pu + 6]);
            a60 = v0.fma(w, a60);
            a61 = v1.fma(w, a61);
            w = FloatVector.broadcast(F, p[pu + 7]);
            a70 = v0.fma(w, a70);
            a71 = v1.fma(w, a71);
        }
        // c += a, written out: a helper taking vectors would box them when not inlined
        int ci = c0;
        FloatVector.fromArray(F, c, ci).add(a00).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a01).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a10).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a11).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a20).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a21).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a30).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a31).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a40).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a41).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a50).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a51).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a60).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a61).intoArray(c, ci + L);
        ci += n;
        FloatVector.fromArray(F, c, ci).add(a70).intoArray(c, ci);
        FloatVector.fromArray(F, c, ci + L).add(a71).intoArray(c, ci + L);
    }

    private static void product4x1(float[] p, int p0, int rowStride, int stepStride, int u0, int u1, float[] b, int b0,
            int n, float[] c, int c0, VectorMask<Float> m) {
        FloatVector a0 = FloatVector.zero(F), a1 = a0, a2 = a0, a3 = a0;
        for (int u = u0; u < u1; u++) {
            FloatVector v = FloatVector.fromArray(F, b, b0 + u * n, m);
            int pu = p0 + u * stepStride;
            a0 = v.fma(FloatVector.broadcast(F, p[pu]), a0);
            a1 = v.fma(FloatVector.broadcast(F, p[pu + rowStride]), a1);
            a2 = v.fma(FloatVector.broadcast(F, p[pu + 2 * rowStride]), a2);
            a3 = v.fma(FloatVector.broadcast(F, p[pu + 3 * rowStride]), a3);
        }
        FloatVector.fromArray(F, c, c0, m).add(a0).intoArray(c, c0, m);
        FloatVector.fromArray(F, c, c0 + n, m).add(a1).intoArray(c, c0 + n, m);
        FloatVector.fromArray(F, c, c0 + 2 * n, m).add(a2).intoArray(c, c0 + 2 * n, m);
        FloatVector.fromArray(F, c, c0 + 3 * n, m).add(a3).intoArray(c, c0 + 3 * n, m);
    }

    private static void product1x1(float[] p, int p0, int stepStride, int u0, int u1, float[] b, int b0, int n,
            float[] c, int c0, VectorMask<Float> m) {
        FloatVector a = FloatVector.zero(F);
        for (int u = u0; u < u1; u++) {
            a = FloatVector.fromArray(F, b, b0 + u * n, m).fma(FloatVector.broadcast(F, p[p0 + u * stepStride]), a);
        }
        FloatVector.fromArray(F, c, c0, m).add(a).intoArray(c, c0, m);
    }
}
