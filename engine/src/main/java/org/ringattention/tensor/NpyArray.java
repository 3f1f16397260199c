package org.ringattention.tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Path;

/**
 * An array read from a {@code .npy} file (or a tensor of a {@code .safetensors} file, see
 * {@link SafetensorsFile#array}), kept as the file stored it: the raw data bytes in the
 * file's byte order and element order (row-major, or column-major if the file says
 * {@code fortran_order}), in a heap {@link MemorySegment} backed by a {@code long[]} so that
 * arrays over 2 GiB fit.
 *
 * <p>Keeping the file's bytes and converting on request means one read serves whichever Java
 * type the caller wants. Every conversion returns the elements in C (row-major) order as native
 * Java values, whatever the file's byte order and element order were. Immutable.
 */
public final class NpyArray {

    private final Path source;
    private final long[] shape;
    private final DType dtype;
    private final ByteOrder byteOrder;
    private final boolean fortranOrder;
    private final long size;
    private final MemorySegment data;

    NpyArray(Path source, NpyHeader header, MemorySegment data) {
        if (!Npy.fitsHeap(header.size()) || data.byteSize() != header.dataBytes()) {
            throw new IllegalArgumentException("data does not match " + header);
        }
        this.source = source;
        this.shape = header.shape();
        this.dtype = header.dtype();
        this.byteOrder = header.byteOrder();
        this.fortranOrder = header.fortranOrder();
        this.size = header.size();
        this.data = data.asReadOnly();
    }

    /** A little-endian C-order array of {@code shape} held in {@code data}: a tensor of another file format. */
    NpyArray(Path source, long[] shape, DType dtype, long size, MemorySegment data) {
        if (!Npy.fitsHeap(size) || data.byteSize() != size * dtype.bytes()) {
            throw new IllegalArgumentException("data does not match " + dtype + " " + NpyHeader.shapeString(shape));
        }
        this.source = source;
        this.shape = shape.clone();
        this.dtype = dtype;
        this.byteOrder = ByteOrder.LITTLE_ENDIAN;
        this.fortranOrder = false;
        this.size = size;
        this.data = data.asReadOnly();
    }

    /** The file this array was read from. */
    public Path source() {
        return source;
    }

    /** The dimensions; a copy. Empty for a rank-0 (scalar) array. */
    public long[] shape() {
        return shape.clone();
    }

    /** Element type as stored in the file. */
    public DType dtype() {
        return dtype;
    }

    /** Number of elements: the product of the shape, 1 for rank 0. */
    public long size() {
        return size;
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Byte order of the file's data; conversions undo it. */
    public ByteOrder byteOrder() {
        return byteOrder;
    }

    /** Whether the file stored the elements in column-major order; conversions undo it. */
    public boolean fortranOrder() {
        return fortranOrder;
    }

    /**
     * The elements as floats in C order. float16, bfloat16 and float32 are exact; float64 is rounded to
     * the nearest float.
     *
     * @throws NpyFormatException if the array is not floating point
     */
    public float[] toFloatArray() throws NpyFormatException {
        requireFloating();
        int n = (int) size;
        float[] out = new float[n];
        switch (dtype) {
            case FLOAT32 -> MemorySegment.copy(data, layout(ValueLayout.JAVA_FLOAT_UNALIGNED), 0, out, 0, n);
            case FLOAT64 -> {
                ValueLayout.OfDouble l = layout(ValueLayout.JAVA_DOUBLE_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = (float) data.getAtIndex(l, i);
                }
            }
            case FLOAT16 -> {
                ValueLayout.OfShort l = layout(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(data.getAtIndex(l, i));
                }
            }
            case BFLOAT16 -> {
                ValueLayout.OfShort l = layout(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = BFloat16.toFloat(data.getAtIndex(l, i));
                }
            }
            default -> throw new AssertionError(dtype);
        }
        return needsTranspose() ? ColumnMajor.toRowMajor(shape, out) : out;
    }

    /**
     * The elements as doubles in C order; exact for every floating-point dtype.
     *
     * @throws NpyFormatException if the array is not floating point
     */
    public double[] toDoubleArray() throws NpyFormatException {
        requireFloating();
        int n = (int) size;
        double[] out = new double[n];
        switch (dtype) {
            case FLOAT64 -> MemorySegment.copy(data, layout(ValueLayout.JAVA_DOUBLE_UNALIGNED), 0, out, 0, n);
            case FLOAT32 -> {
                ValueLayout.OfFloat l = layout(ValueLayout.JAVA_FLOAT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = data.getAtIndex(l, i);
                }
            }
            case FLOAT16 -> {
                ValueLayout.OfShort l = layout(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(data.getAtIndex(l, i));
                }
            }
            case BFLOAT16 -> {
                ValueLayout.OfShort l = layout(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = BFloat16.toFloat(data.getAtIndex(l, i));
                }
            }
            default -> throw new AssertionError(dtype);
        }
        return needsTranspose() ? ColumnMajor.toRowMajor(shape, out) : out;
    }

    /**
     * The elements as longs in C order.
     *
     * @throws NpyFormatException if the array is not int32, int64 or uint16
     */
    public long[] toLongArray() throws NpyFormatException {
        if (dtype.isFloating()) {
            throw new NpyFormatException(source, "expected an integer array, got " + dtype);
        }
        int n = (int) size;
        long[] out = new long[n];
        switch (dtype) {
            case INT64 -> MemorySegment.copy(data, layout(ValueLayout.JAVA_LONG_UNALIGNED), 0, out, 0, n);
            case INT32 -> {
                ValueLayout.OfInt l = layout(ValueLayout.JAVA_INT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = data.getAtIndex(l, i);
                }
            }
            case UINT16 -> {
                ValueLayout.OfShort l = layout(ValueLayout.JAVA_SHORT_UNALIGNED);
                for (int i = 0; i < n; i++) {
                    out[i] = data.getAtIndex(l, i) & 0xffff;
                }
            }
            case BOOL -> {
                for (int i = 0; i < n; i++) {
                    out[i] = data.get(ValueLayout.JAVA_BYTE, i) != 0 ? 1 : 0;
                }
            }
            default -> throw new AssertionError(dtype);
        }
        return needsTranspose() ? ColumnMajor.toRowMajor(shape, out) : out;
    }

    /**
     * A uint16 array's elements taken as bfloat16 bit patterns: the same bytes, read as bfloat16,
     * for files that carry bfloat16 without ml_dtypes ({@code x.view(np.uint16)}).
     *
     * @throws NpyFormatException if the array is not uint16
     */
    public NpyArray asBFloat16Bits() throws NpyFormatException {
        if (dtype != DType.UINT16) {
            throw new NpyFormatException(source, "bfloat16 bit patterns must be uint16, got " + dtype);
        }
        return new NpyArray(this, DType.BFLOAT16);
    }

    private NpyArray(NpyArray bits, DType dtype) {
        this.source = bits.source;
        this.shape = bits.shape;
        this.dtype = dtype;
        this.byteOrder = bits.byteOrder;
        this.fortranOrder = bits.fortranOrder;
        this.size = bits.size;
        this.data = bits.data;
    }

    /**
     * The elements as booleans in C order (non-zero is true).
     *
     * @throws NpyFormatException if the array is not bool
     */
    public boolean[] toBooleanArray() throws NpyFormatException {
        if (dtype != DType.BOOL) {
            throw new NpyFormatException(source, "expected a bool array, got " + dtype);
        }
        long[] x = toLongArray();
        boolean[] out = new boolean[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i] != 0;
        }
        return out;
    }

    @Override
    public String toString() {
        return "NpyArray[" + source + ", shape=" + NpyHeader.shapeString(shape) + ", dtype=" + dtype
                + (fortranOrder ? ", fortran_order" : "") + "]";
    }

    private void requireFloating() throws NpyFormatException {
        if (!dtype.isFloating()) {
            throw new NpyFormatException(source, "expected a floating-point array, got " + dtype);
        }
    }

    @SuppressWarnings("unchecked")
    private <L extends ValueLayout> L layout(L base) {
        return (L) base.withOrder(byteOrder);
    }

    // Column-major and row-major coincide when at most one dimension exceeds 1.
    private boolean needsTranspose() {
        if (!fortranOrder || size == 0) {
            return false;
        }
        int nonTrivial = 0;
        for (long d : shape) {
            if (d > 1) {
                nonTrivial++;
            }
        }
        return nonTrivial > 1;
    }

    /**
     * Reorders a column-major array of any rank into row-major order. Walks the row-major
     * indices with an odometer (last axis fastest) and keeps the matching column-major position
     * up to date incrementally, so each element costs O(1) on average.
     */
    private static final class ColumnMajor {
        private final long[] dims;
        private final long[] strides; // column-major strides: the first axis is contiguous
        private final long[] index;
        private long position;

        private ColumnMajor(long[] shape) {
            dims = shape;
            strides = new long[shape.length];
            index = new long[shape.length];
            long s = 1;
            for (int k = 0; k < shape.length; k++) {
                strides[k] = s;
                s *= shape[k];
            }
        }

        /** Column-major position of the current row-major element; then moves to the next one. */
        private int next() {
            int current = (int) position;
            for (int k = dims.length - 1; k >= 0; k--) {
                if (++index[k] < dims[k]) {
                    position += strides[k];
                    break;
                }
                position -= (dims[k] - 1) * strides[k];
                index[k] = 0;
            }
            return current;
        }

        static float[] toRowMajor(long[] shape, float[] src) {
            ColumnMajor c = new ColumnMajor(shape);
            float[] dst = new float[src.length];
            for (int i = 0; i < dst.length; i++) {
                dst[i] = src[c.next()];
            }
            return dst;
        }

        static double[] toRowMajor(long[] shape, double[] src) {
            ColumnMajor c = new ColumnMajor(shape);
            double[] dst = new double[src.length];
            for (int i = 0; i < dst.length; i++) {
                dst[i] = src[c.next()];
            }
            return dst;
        }

        static long[] toRowMajor(long[] shape, long[] src) {
            ColumnMajor c = new ColumnMajor(shape);
            long[] dst = new long[src.length];
            for (int i = 0; i < dst.length; i++) {
                dst[i] = src[c.next()];
            }
            return dst;
        }
    }
}
