package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * Segment (document) ids of packed sequences, shape [B, N], row-major: token i of batch b belongs
 * to segment {@code id(b, i)}. Ids are compared for equality only; they need not be sorted.
 */
public final class SegmentIds {

    private final long[] ids;
    private final int batch;
    private final int length;

    private SegmentIds(long[] ids, int batch, int length) {
        this.ids = ids;
        this.batch = batch;
        this.length = length;
    }

    /** Wraps {@code ids} (copied) of shape [batch, length]. */
    public static SegmentIds of(long[] ids, int batch, int length) {
        Objects.requireNonNull(ids, "ids");
        if ((long) batch * length != ids.length) {
            throw new IllegalArgumentException("segment ids hold " + ids.length + " values, not [" + batch + ", "
                    + length + "]");
        }
        return new SegmentIds(ids.clone(), batch, length);
    }

    public int batch() {
        return batch;
    }

    public int length() {
        return length;
    }

    public long id(int b, int i) {
        return ids[b * length + i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SegmentIds s && s.batch == batch && s.length == length && Arrays.equals(s.ids, ids);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(ids) * 31 + batch;
    }
}
