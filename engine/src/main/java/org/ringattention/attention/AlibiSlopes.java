package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * ALiBi slopes, one per query head ([Hq], every batch alike) or one per batch and query head
 * ([B, Hq]), row-major. The {@link Mask} adds −slope(b, h)·|p(i) − j| to each score.
 */
public final class AlibiSlopes {

    private final double[] slopes;
    private final int batch; // 1 for [Hq]
    private final int heads;
    private final boolean batched;

    private AlibiSlopes(double[] slopes, int batch, int heads, boolean batched) {
        this.slopes = slopes;
        this.batch = batch;
        this.heads = heads;
        this.batched = batched;
    }

    /** Slopes [Hq] (copied), the same for every batch. */
    public static AlibiSlopes perHead(double[] slopes) {
        return of(slopes, 1, slopes.length, false);
    }

    /** Slopes [B, Hq] (copied), row-major. */
    public static AlibiSlopes perBatchAndHead(double[] slopes, int batch, int heads) {
        return of(slopes, batch, heads, true);
    }

    private static AlibiSlopes of(double[] slopes, int batch, int heads, boolean batched) {
        Objects.requireNonNull(slopes, "slopes");
        if (batch < 1 || heads < 1 || (long) batch * heads != slopes.length) {
            throw new IllegalArgumentException("ALiBi slopes hold " + slopes.length + " values, not ["
                    + (batched ? batch + ", " : "") + heads + "]");
        }
        for (int i = 0; i < slopes.length; i++) {
            if (!Double.isFinite(slopes[i])) {
                throw new IllegalArgumentException("ALiBi slope " + i + " is not finite: " + slopes[i]);
            }
        }
        return new AlibiSlopes(slopes.clone(), batch, heads, batched);
    }

    /** Whether the slopes are [B, Hq] (else [Hq]). */
    public boolean batched() {
        return batched;
    }

    public int heads() {
        return heads;
    }

    /** The batch size of [B, Hq] slopes, 1 for [Hq]. */
    public int batch() {
        return batch;
    }

    /** The slope of query head h in batch b. */
    public double slope(int b, int h) {
        return slopes[(batched ? b : 0) * heads + h];
    }

    /** Checks the slopes against the problem's batch and query heads. */
    void check(AttentionShape shape) {
        if (heads != shape.qHeads() || (batched && batch != shape.batch())) {
            throw new IllegalArgumentException("ALiBi slopes have shape " + shapeString() + ", expected ["
                    + shape.qHeads() + "] or [" + shape.batch() + ", " + shape.qHeads() + "]");
        }
    }

    private String shapeString() {
        return batched ? "[" + batch + ", " + heads + "]" : "[" + heads + "]";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AlibiSlopes a && a.batched == batched && a.heads == heads
                && Arrays.equals(a.slopes, slopes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(slopes) * 31 + heads;
    }

    @Override
    public String toString() {
        return "alibi" + shapeString();
    }
}
