package org.ringattention.golden;

import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.KeepMask;
import org.ringattention.attention.ScoreBias;
import org.ringattention.attention.SegmentIds;
import org.ringattention.tensor.DType;

/**
 * The inputs of a case as the stored values (exact in the case's dtype, held as doubles): q, k, v,
 * dO, the segment ids, the keep mask and the bias (each null when the case has none).
 */
public record CaseInputs(double[] q, double[] k, double[] v, double[] dOut, long[] segments, boolean[] keep,
        double[] bias) {

    /** Without keep mask and bias. */
    public CaseInputs(double[] q, double[] k, double[] v, double[] dOut, long[] segments) {
        this(q, k, v, dOut, segments, null, null);
    }

    /**
     * Draws the inputs of {@code c} from {@code SplittableRandom(c.seed())}: standard-normal q
     * (times the case's query scale), k, v, dO in that order, each value rounded to the case's
     * dtype, then the segment ids, the keep mask (each pair kept with probability 0.7, one row in
     * eight keeping nothing) and the standard-normal bias. Deterministic: the same case always
     * gives the same values.
     */
    public static CaseInputs generate(GoldenCase c) {
        SplittableRandom rnd = new SplittableRandom(c.seed());
        double[] q = gaussian(rnd, c.shape().qSize(), c.queryScale(), c.dtype());
        double[] k = gaussian(rnd, c.shape().kvSize(), 1, c.dtype());
        double[] v = gaussian(rnd, c.shape().kvSize(), 1, c.dtype());
        double[] dOut = gaussian(rnd, c.shape().qSize(), 1, c.dtype());
        long[] seg = switch (c.segments()) {
            case NONE -> null;
            case SORTED -> sortedIds(rnd, c.batch(), c.qLen());
            case UNSORTED -> unsortedIds(rnd, c.batch(), c.qLen(), c.segmentDtype());
        };
        boolean[] keep = null;
        if (c.maskKind() > 0) {
            long[] shape = c.pairShape(c.maskKind());
            int rows = Math.toIntExact(shape[0] * shape[1] * shape[2]);
            int cols = c.kvLen();
            keep = new boolean[rows * cols];
            for (int r = 0; r < rows; r++) {
                boolean blind = rnd.nextInt(8) == 0;
                for (int j = 0; j < cols; j++) {
                    keep[r * cols + j] = !blind && rnd.nextDouble() < 0.7;
                }
            }
        }
        double[] bias = null;
        if (c.biasKind() > 0) {
            long[] shape = c.pairShape(c.biasKind());
            bias = new double[Math.toIntExact(shape[0] * shape[1] * shape[2] * shape[3])];
            for (int e = 0; e < bias.length; e++) {
                bias[e] = rnd.nextGaussian();
            }
        }
        return new CaseInputs(q, k, v, dOut, seg, keep, bias);
    }

    /** The attention spec of case {@code c} with these inputs' segment ids, keep mask and bias. */
    public AttentionSpec spec(GoldenCase c) {
        AttentionSpec s = c.spec(segmentIds(c));
        if (keep != null) {
            long[] sh = c.pairShape(c.maskKind());
            s = s.withMask(KeepMask.of(keep, (int) sh[0], (int) sh[1], c.qLen(), c.kvLen()));
        }
        if (bias != null) {
            long[] sh = c.pairShape(c.biasKind());
            s = s.withBias(ScoreBias.of(bias, (int) sh[0], (int) sh[1], c.qLen(), c.kvLen()));
        }
        return s;
    }

    /** The segment ids for an attention spec, or null. */
    public SegmentIds segmentIds(GoldenCase c) {
        return segments == null ? null : SegmentIds.of(segments, c.batch(), c.qLen());
    }

    /** x rounded to the nearest value of {@code dtype} (float16 via float32). */
    static double round(double x, DType dtype) {
        return switch (dtype) {
            case FLOAT16 -> Float.float16ToFloat(Float.floatToFloat16((float) x));
            case FLOAT32 -> (float) x;
            case FLOAT64 -> x;
            default -> throw new IllegalArgumentException("not a float dtype: " + dtype);
        };
    }

    /** Each value rounded to float32: what the float32 paths compute with. */
    static float[] toFloats(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = (float) x[i];
        }
        return f;
    }

    /** Each value rounded to float32 and held as a double. */
    static double[] roundedToFloat(double[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = (float) x[i];
        }
        return d;
    }

    private static double[] gaussian(SplittableRandom rnd, long n, double scale, DType dtype) {
        double[] x = new double[Math.toIntExact(n)];
        for (int i = 0; i < x.length; i++) {
            x[i] = round(scale * rnd.nextGaussian(), dtype);
        }
        return x;
    }

    /** Runs of 1 to 40 tokens with increasing ids from 0: packed documents. */
    private static long[] sortedIds(SplittableRandom rnd, int batch, int n) {
        long[] ids = new long[batch * n];
        for (int b = 0; b < batch; b++) {
            long id = 0;
            int left = 1 + rnd.nextInt(40);
            for (int i = 0; i < n; i++) {
                if (left == 0) {
                    id++;
                    left = 1 + rnd.nextInt(40);
                }
                ids[b * n + i] = id;
                left--;
            }
        }
        return ids;
    }

    /** Ids drawn from four values in no order; for int64 one of them does not fit in int32. */
    private static long[] unsortedIds(SplittableRandom rnd, int batch, int n, DType dtype) {
        long[] pool = dtype == DType.INT64 ? new long[] {5_000_000_001L, -2, 7, 0} : new long[] {3, -1, 7, 0};
        long[] ids = new long[batch * n];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = pool[rnd.nextInt(pool.length)];
        }
        return ids;
    }
}
