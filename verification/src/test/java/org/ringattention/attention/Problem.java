package org.ringattention.attention;

import java.util.SplittableRandom;
import org.ringattention.tensor.Tensor;

/**
 * One attention problem for the tests: shapes, mask and float32 inputs (q, k, v and an upstream
 * gradient dO), with the float64 copies the oracle reads. Inputs are float32 values, so the oracle
 * and the engine see exactly the same numbers.
 */
public record Problem(AttentionShape shape, AttentionSpec spec, float[] q, float[] k, float[] v, float[] dOut) {

    /** Which mask a generated problem uses. */
    public enum MaskKind {
        NONE, CAUSAL, WINDOW, SEGMENTS, CAUSAL_SEGMENTS
    }

    /** Standard-normal inputs from {@code seed}; queries multiplied by {@code qScale}. */
    public static Problem random(AttentionShape shape, AttentionSpec spec, long seed, double qScale) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] q = gaussian(rnd, shape.qSize(), qScale);
        float[] k = gaussian(rnd, shape.kvSize(), 1);
        float[] v = gaussian(rnd, shape.kvSize(), 1);
        float[] dOut = gaussian(rnd, shape.qSize(), 1);
        return new Problem(shape, spec, q, k, v, dOut);
    }

    /** Segment ids for {@code kind}: sorted documents of random lengths, or unsorted ids from a few values. */
    public static SegmentIds segments(int batch, int n, long seed, boolean sorted) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x5E6L);
        long[] ids = new long[batch * n];
        for (int b = 0; b < batch; b++) {
            long id = rnd.nextInt(3);
            for (int i = 0; i < n; i++) {
                if (sorted) {
                    if (i > 0 && rnd.nextInt(Math.max(2, n / 4 + 1)) == 0) {
                        id += 1 + rnd.nextInt(2);
                    }
                    ids[b * n + i] = id;
                } else {
                    ids[b * n + i] = rnd.nextInt(3);
                }
            }
        }
        return SegmentIds.of(ids, batch, n);
    }

    /**
     * Cumulative lengths of 1 to 4 packed sequences over nq queries and nk keys, cut at random
     * points of each side, so that sequences may be empty on either side and Nq ≠ Nk per sequence.
     */
    public static SequenceLengths varlen(int nq, int nk, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0xC05EL);
        int count = 1 + rnd.nextInt(4);
        return SequenceLengths.of(cuts(nq, count, rnd), cuts(nk, count, rnd));
    }

    private static long[] cuts(int n, int count, SplittableRandom rnd) {
        long[] cu = new long[count + 1];
        for (int s = 1; s < count; s++) {
            cu[s] = rnd.nextInt(n + 1);
        }
        cu[count] = n;
        java.util.Arrays.sort(cu);
        return cu;
    }

    /**
     * ALiBi slopes [Hq] (the geometric 2^(−8(h+1)/Hq) of the paper, times a random factor in [0, 2)
     * so that slopes differ between problems) or [B, Hq] (each batch its own factor).
     */
    public static AlibiSlopes alibi(int batch, int heads, long seed, boolean perBatch) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0xA11B1L);
        int rows = perBatch ? batch : 1;
        double[] slopes = new double[rows * heads];
        for (int b = 0; b < rows; b++) {
            double f = 2 * rnd.nextDouble();
            for (int h = 0; h < heads; h++) {
                slopes[b * heads + h] = f * Math.pow(2, -8.0 * (h + 1) / heads);
            }
        }
        return perBatch ? AlibiSlopes.perBatchAndHead(slopes, batch, heads) : AlibiSlopes.perHead(slopes);
    }

    /** Sink logits [Hq]: standard normal plus {@code shift} (a large shift makes the sink dominate the rows). */
    public static AttentionSinks sinks(int heads, long seed, double shift) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x51CCL);
        double[] x = new double[heads];
        for (int h = 0; h < heads; h++) {
            x[h] = rnd.nextGaussian() + shift;
        }
        return AttentionSinks.of(x);
    }

    /**
     * A keep mask of broadcast kind 1 [1, 1, Nq, Nk], 2 [B, 1, Nq, Nk], 3 [1, Hq, Nq, Nk] or
     * 4 [B, Hq, Nq, Nk]: each pair kept with probability 0.7, and a few rows that keep nothing.
     */
    public static KeepMask keepMask(AttentionShape shape, int kind, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0x3A5CL);
        int b = kind == 2 || kind == 4 ? shape.batch() : 1;
        int h = kind >= 3 ? shape.qHeads() : 1;
        boolean[] keep = new boolean[b * h * shape.qLen() * shape.kvLen()];
        for (int r = 0; r < b * h * shape.qLen(); r++) {
            boolean blind = rnd.nextInt(8) == 0;
            for (int j = 0; j < shape.kvLen(); j++) {
                keep[r * shape.kvLen() + j] = !blind && rnd.nextDouble() < 0.7;
            }
        }
        return KeepMask.of(keep, b, h, shape.qLen(), shape.kvLen());
    }

    /** A standard-normal bias of broadcast kind 1 to 4 (as {@link #keepMask}). */
    public static ScoreBias bias(AttentionShape shape, int kind, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed ^ 0xB1A5L);
        int b = kind == 2 || kind == 4 ? shape.batch() : 1;
        int h = kind >= 3 ? shape.qHeads() : 1;
        double[] x = new double[b * h * shape.qLen() * shape.kvLen()];
        for (int e = 0; e < x.length; e++) {
            x[e] = rnd.nextGaussian();
        }
        return ScoreBias.of(x, b, h, shape.qLen(), shape.kvLen());
    }

    public Problem withSpec(AttentionSpec s) {
        return new Problem(shape, s, q, k, v, dOut);
    }

    public Problem withInputs(float[] q2, float[] k2, float[] v2) {
        return new Problem(shape, spec, q2, k2, v2, dOut);
    }

    public Tensor qTensor() {
        return Tensor.wrap(q.clone(), shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
    }

    public Tensor kTensor() {
        return Tensor.wrap(k.clone(), shape.batch(), shape.kvHeads(), shape.kvLen(), shape.dim());
    }

    public Tensor vTensor() {
        return Tensor.wrap(v.clone(), shape.batch(), shape.kvHeads(), shape.kvLen(), shape.dim());
    }

    public Tensor dOutTensor() {
        return Tensor.wrap(dOut.clone(), shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
    }

    public AttentionOutput blockwise(int blockQ, int blockKv) {
        return new BlockwiseAttention(org.ringattention.kernel.Kernels.preferred(), blockQ, blockKv)
                .forward(qTensor(), kTensor(), vTensor(), spec);
    }

    public Gradients blockwiseGrads(int blockQ, int blockKv) {
        return new BlockwiseAttention(org.ringattention.kernel.Kernels.preferred(), blockQ, blockKv)
                .backward(qTensor(), kTensor(), vTensor(), dOutTensor(), spec);
    }

    public VanillaAttention.Result vanilla(VanillaAttention.Precision p) {
        return new VanillaAttention(p).forward(shape, spec, widen(q), widen(k), widen(v));
    }

    /** ∂L/∂sink [Hq] by vanilla attention in precision {@code p} (zeros without sinks). */
    public double[] vanillaSinkGrads(VanillaAttention.Precision p) {
        return new VanillaAttention(p).sinkGradient(shape, spec, widen(q), widen(k), widen(v), widen(dOut));
    }

    public VanillaAttention.Grads vanillaGrads(VanillaAttention.Precision p) {
        return new VanillaAttention(p).backward(shape, spec, widen(q), widen(k), widen(v), widen(dOut));
    }

    /** The elementwise magnitudes the gradients are made of (the accuracy rule's scale). */
    public VanillaAttention.Grads gradientMagnitudes() {
        return VanillaAttention.oracle().gradientMagnitudes(shape, spec, widen(q), widen(k), widen(v), widen(dOut));
    }

    public static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    public static double[] widen(Tensor t) {
        return widen(t.toArray());
    }

    private static float[] gaussian(SplittableRandom rnd, long n, double scale) {
        float[] x = new float[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextGaussian() * scale);
        }
        return x;
    }

    @Override
    public String toString() {
        return shape + " " + spec;
    }
}
