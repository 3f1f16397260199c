package org.ringattention.attention;

import java.util.Arrays;
import org.ringattention.tensor.Tensor;

/**
 * Where the rows of a shard sit in the whole sequence: row r of the shard is token {@link #at}(r)
 * of the sequence. Positions increase with r, which is what lets the {@link Mask} judge a tile from
 * its first and last rows and find each row's visible keys by binary search. A whole sequence is
 * the range 0..n−1.
 */
public final class Positions {

    private final int start;
    private final int length;
    private final int[] at; // null for the range start..start+length−1

    private Positions(int start, int length, int[] at) {
        this.start = start;
        this.length = length;
        this.at = at;
    }

    /** Rows 0..length−1 at positions start..start+length−1. */
    public static Positions range(int start, int length) {
        if (start < 0 || length < 0) {
            throw new IllegalArgumentException("a range needs start >= 0 and length >= 0, got " + start + ", " + length);
        }
        return new Positions(start, length, null);
    }

    /** Row r at position {@code at[r]} (copied); the positions must increase strictly. */
    public static Positions of(int[] at) {
        for (int r = 0; r < at.length; r++) {
            if (at[r] < 0 || (r > 0 && at[r] <= at[r - 1])) {
                throw new IllegalArgumentException("positions must be >= 0 and increase strictly, row " + r + ": "
                        + at[r]);
            }
        }
        return new Positions(0, at.length, at.clone());
    }

    public int length() {
        return length;
    }

    /** The position of row {@code r}. */
    public int at(int r) {
        return at == null ? start + r : at[r];
    }

    /**
     * Copies the rows of head (b, h) of {@code x} at these positions into {@code dst} from
     * {@code dstOff}, row after row; rows at consecutive positions are copied as one run.
     */
    public void gather(Tensor x, int b, int h, float[] dst, int dstOff) {
        gather(x, b, h, 0, length, dst, dstOff);
    }

    /** {@link #gather} of rows [from, from + count) only, the first of them to {@code dst[dstOff ..]}. */
    public void gather(Tensor x, int b, int h, int from, int count, float[] dst, int dstOff) {
        for (int r = from; r < from + count; ) {
            int run = Math.min(runFrom(r), from + count - r);
            x.rows(b, h, at(r), run).copyTo(dst, dstOff + (r - from) * x.dim());
            r += run;
        }
    }

    /** The inverse of {@link #gather}: writes rows from {@code src} to head (b, h) of {@code x}. */
    public void scatter(float[] src, int srcOff, Tensor x, int b, int h) {
        for (int r = 0; r < length; ) {
            int run = runFrom(r);
            x.rows(b, h, at(r), run).copyFrom(src, srcOff + r * x.dim());
            r += run;
        }
    }

    /** The number of rows from row r on whose positions follow each other without a gap. */
    private int runFrom(int r) {
        if (at == null) {
            return length - r;
        }
        int run = 1;
        while (r + run < length && at[r + run] == at[r] + run) {
            run++;
        }
        return run;
    }

    /** The number of rows in [from, to) whose position is below {@code x}. */
    int countBelow(int from, int to, long x) {
        if (at == null) {
            return (int) Math.max(0, Math.min(to - from, x - start - from));
        }
        int i = Arrays.binarySearch(at, from, to, (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, x)));
        return (i >= 0 ? i : -i - 1) - from;
    }

    @Override
    public String toString() {
        if (at == null) {
            return "[" + start + ", " + (start + length) + ")";
        }
        return length <= 8 ? Arrays.toString(at) : "[" + at[0] + ", " + at[1] + ", ... " + at[length - 1] + "] ("
                + length + " rows)";
    }
}
