package org.ringattention.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Objects;

/**
 * A float32 tensor of shape [B, H, N, d] in row-major (C) order: element (b, h, i, k) sits at
 * {@code ((b·H + h)·N + i)·d + k}.
 *
 * <p>Row-major with d innermost is the layout of NumPy's default arrays and of every attention
 * implementation this engine is compared with, so inputs load without a transpose, and one
 * token's vector (a row) is contiguous: a block of consecutive tokens of one head is one
 * contiguous range, which is what {@link #rows} hands out without copying.
 *
 * <p>The storage is either a heap {@code float[]} or a {@link MemorySegment} (little-endian
 * floats, for example a memory-mapped {@code .npy} file). Kernels do not read a tensor element by
 * element: they copy the block they work on into their own packed buffers with
 * {@link RowBlock#copyTo}, so the storage kind costs nothing in the hot loops.
 *
 * <p>Not thread-safe for writes to overlapping rows; distinct rows may be written by distinct
 * threads.
 */
public final class Tensor {

    static final ValueLayout.OfFloat LE_FLOAT =
            ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int batch;
    private final int heads;
    private final int rows;
    private final int dim;
    private final float[] heap;
    private final MemorySegment segment;

    private Tensor(int batch, int heads, int rows, int dim, float[] heap, MemorySegment segment) {
        requireNonNegative(batch, heads, rows, dim);
        this.batch = batch;
        this.heads = heads;
        this.rows = rows;
        this.dim = dim;
        this.heap = heap;
        this.segment = segment;
    }

    private static void requireNonNegative(int batch, int heads, int rows, int dim) {
        if (batch < 0 || heads < 0 || rows < 0 || dim < 0) {
            throw new IllegalArgumentException("negative dimension in " + shapeString(batch, heads, rows, dim));
        }
    }

    /** A new heap tensor filled with zeros. */
    public static Tensor zeros(int batch, int heads, int rows, int dim) {
        requireNonNegative(batch, heads, rows, dim); // before the allocation, which would throw its own error
        long size = (long) batch * heads * rows * dim;
        if (!Npy.fitsHeap(size)) {
            throw new IllegalArgumentException("too large for a heap tensor: " + shapeString(batch, heads, rows, dim));
        }
        return new Tensor(batch, heads, rows, dim, new float[(int) size], null);
    }

    /** Wraps {@code data} (not copied) as a [B, H, N, d] tensor. */
    public static Tensor wrap(float[] data, int batch, int heads, int rows, int dim) {
        Objects.requireNonNull(data, "data");
        if ((long) batch * heads * rows * dim != data.length) {
            throw new IllegalArgumentException("array of " + data.length + " floats does not hold "
                    + shapeString(batch, heads, rows, dim));
        }
        return new Tensor(batch, heads, rows, dim, data, null);
    }

    /** Views {@code segment} (little-endian float32, row-major) as a [B, H, N, d] tensor. */
    public static Tensor of(MemorySegment segment, int batch, int heads, int rows, int dim) {
        Objects.requireNonNull(segment, "segment");
        if ((long) batch * heads * rows * dim * Float.BYTES != segment.byteSize()) {
            throw new IllegalArgumentException("segment of " + segment.byteSize() + " bytes does not hold "
                    + shapeString(batch, heads, rows, dim) + " float32");
        }
        return new Tensor(batch, heads, rows, dim, null, segment);
    }

    public int batch() {
        return batch;
    }

    public int heads() {
        return heads;
    }

    public int rows() {
        return rows;
    }

    public int dim() {
        return dim;
    }

    public long size() {
        return (long) batch * heads * rows * dim;
    }

    public boolean isHeap() {
        return heap != null;
    }

    /**
     * The heap array holding this tensor's elements in the order of the class comment, or null when
     * they live in a MemorySegment: kernels read blocks of a heap tensor in place instead of
     * copying them. Writing to it writes the tensor.
     */
    public float[] heapArray() {
        return heap;
    }

    /** Index of element (b, h, i, 0). */
    public long rowOffset(int b, int h, int i) {
        return (((long) b * heads + h) * rows + i) * dim;
    }

    public float get(int b, int h, int i, int k) {
        return load(rowOffset(b, h, i) + k);
    }

    public void set(int b, int h, int i, int k, float value) {
        store(rowOffset(b, h, i) + k, value);
    }

    /** Rows [start, start + count) of head (b, h): a view sharing this tensor's storage. */
    public RowBlock rows(int b, int h, int start, int count) {
        Objects.checkIndex(b, batch);
        Objects.checkIndex(h, heads);
        Objects.checkFromIndexSize(start, count, rows);
        return new RowBlock(this, rowOffset(b, h, start), count, dim);
    }

    /** A copy of all elements in row-major order. */
    public float[] toArray() {
        if (!Npy.fitsHeap(size())) {
            throw new IllegalStateException("too large for one array: " + shape());
        }
        float[] out = new float[(int) size()];
        copyOut(0, out, 0, out.length);
        return out;
    }

    /** Index of the first NaN or ±∞ element in row-major order, or −1 when all are finite. */
    public long firstNonFinite() {
        return firstNonFinite(0, size());
    }

    /** Index of the first NaN or ±∞ element among elements [from, to), or −1 when all are finite. */
    public long firstNonFinite(long from, long to) {
        if (heap != null) {
            for (int i = (int) from; i < to; i++) {
                if (!Float.isFinite(heap[i])) {
                    return i;
                }
            }
            return -1;
        }
        for (long i = from; i < to; i++) {
            if (!Float.isFinite(load(i))) {
                return i;
            }
        }
        return -1;
    }

    /** Throws {@link IllegalArgumentException} naming {@code what} and the first NaN or ±∞ element. */
    public void requireFinite(String what) {
        long i = firstNonFinite();
        if (i >= 0) {
            throw new IllegalArgumentException(what + " contains " + load(i) + " at " + indexString(i)
                    + " (inputs must be finite)");
        }
    }

    /** Element index {@code i} as {@code [b, h, n, k]}. */
    public String indexString(long i) {
        long k = i % Math.max(dim, 1);
        long r = i / Math.max(dim, 1);
        long n = r % Math.max(rows, 1);
        r /= Math.max(rows, 1);
        long h = r % Math.max(heads, 1);
        long b = r / Math.max(heads, 1);
        return "[" + b + ", " + h + ", " + n + ", " + k + "]";
    }

    /** The shape as {@code [B, H, N, d]}. */
    public String shape() {
        return shapeString(batch, heads, rows, dim);
    }

    float load(long index) {
        return heap != null ? heap[(int) index] : segment.getAtIndex(LE_FLOAT, index);
    }

    void store(long index, float value) {
        if (heap != null) {
            heap[(int) index] = value;
        } else {
            segment.setAtIndex(LE_FLOAT, index, value);
        }
    }

    void copyOut(long index, float[] dst, int dstOff, int length) {
        if (heap != null) {
            System.arraycopy(heap, (int) index, dst, dstOff, length);
        } else {
            MemorySegment.copy(segment, LE_FLOAT, index * Float.BYTES, dst, dstOff, length);
        }
    }

    void copyIn(float[] src, int srcOff, long index, int length) {
        if (heap != null) {
            System.arraycopy(src, srcOff, heap, (int) index, length);
        } else {
            MemorySegment.copy(src, srcOff, segment, LE_FLOAT, index * Float.BYTES, length);
        }
    }

    private static String shapeString(int b, int h, int n, int d) {
        return Arrays.toString(new int[] {b, h, n, d});
    }
}
