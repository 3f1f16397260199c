package org.ringattention.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Reads and writes NumPy {@code .npy} files without NumPy.
 *
 * <p>Reading accepts format versions 1.0, 2.0 and 3.0, either byte order, C or Fortran element
 * order, and the dtypes of {@link DType}; everything else is refused with an
 * {@link NpyFormatException} naming the file and the problem. Writing produces what
 * {@code numpy.save} produces for a C-contiguous little-endian array: version 1.0, descr
 * {@code '<f4'}, {@code '<f8'}, {@code '<f2'}, {@code '<i4'}, {@code '<i8'}, {@code '<u2'} or
 * {@code '<V2'} (bfloat16, as for ml_dtypes), data starting at a multiple of
 * 64 bytes. Writes go straight to the given path; callers that need atomic replacement write to
 * a temporary file and rename it.
 */
public final class Npy {

    /** Largest element count loaded onto the heap: the usual maximum Java array length. */
    public static final long MAX_HEAP_ELEMENTS = Integer.MAX_VALUE - 8;

    /**
     * Whether {@code elements} values fit one heap array ({@link #MAX_HEAP_ELEMENTS} do): the one
     * place the limit is compared, so that its boundary is tested without an 8 GiB array.
     */
    static boolean fitsHeap(long elements) {
        return elements <= MAX_HEAP_ELEMENTS;
    }

    /** I/O is done in pieces of this many bytes so no buffer grows with the array. */
    private static final int CHUNK_BYTES = 1 << 20;

    private Npy() {
    }

    /**
     * Reads a whole {@code .npy} file onto the heap.
     *
     * @throws NpyFormatException if the file cannot be read (including when it does not exist),
     *     is not a supported {@code .npy} file, or holds more than {@link #MAX_HEAP_ELEMENTS}
     *     elements
     * @throws IOException on other I/O failures
     */
    public static NpyArray read(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new NpyFormatException(file, "cannot read: is a directory");
        }
        try (FileChannel ch = open(file)) {
            NpyHeader header = NpyHeader.parse(file, ch);
            if (!fitsHeap(header.size())) {
                throw new NpyFormatException(file, "too large to load on the heap (" + header.size()
                        + " elements, shape " + NpyHeader.shapeString(header.shape()) + ")");
            }
            return new NpyArray(file, header, readData(file, ch, header));
        }
    }

    /** Writes {@code data}, in C order, as a float32 array of the given shape. */
    public static void write(Path file, long[] shape, float[] data) throws IOException {
        writeArray(file, shape, DType.FLOAT32, data.length,
                (buf, from, count) -> buf.asFloatBuffer().put(data, from, count));
    }

    /** Writes {@code data}, in C order, as a float64 array of the given shape. */
    public static void write(Path file, long[] shape, double[] data) throws IOException {
        writeArray(file, shape, DType.FLOAT64, data.length,
                (buf, from, count) -> buf.asDoubleBuffer().put(data, from, count));
    }

    /** Writes {@code data}, in C order, rounded to nearest-even, as a float16 array ({@code '<f2'}). */
    public static void writeFloat16(Path file, long[] shape, float[] data) throws IOException {
        writeArray(file, shape, DType.FLOAT16, data.length, (buf, from, count) -> {
            for (int i = 0; i < count; i++) {
                buf.putShort(2 * i, Float.floatToFloat16(data[from + i]));
            }
        });
    }

    /**
     * Writes {@code data}, in C order, rounded to nearest-even bfloat16 (see {@link BFloat16}):
     * as descr {@code '<V2'}, what {@code numpy.save} writes for an {@code ml_dtypes.bfloat16}
     * array ({@code np.load(f).view(ml_dtypes.bfloat16)} reads it back), or with
     * {@code asUint16Bits} as the bit patterns in a uint16 array ({@code '<u2'}).
     */
    public static void writeBFloat16(Path file, long[] shape, float[] data, boolean asUint16Bits) throws IOException {
        writeArray(file, shape, asUint16Bits ? DType.UINT16 : DType.BFLOAT16, data.length, (buf, from, count) -> {
            for (int i = 0; i < count; i++) {
                buf.putShort(2 * i, BFloat16.fromFloat(data[from + i]));
            }
        });
    }

    /** Writes {@code data}, in C order, as an int32 array of the given shape. */
    public static void writeInt32(Path file, long[] shape, int[] data) throws IOException {
        writeArray(file, shape, DType.INT32, data.length,
                (buf, from, count) -> buf.asIntBuffer().put(data, from, count));
    }

    /** Writes {@code data}, in C order, as an int64 array of the given shape. */
    public static void writeInt64(Path file, long[] shape, long[] data) throws IOException {
        writeArray(file, shape, DType.INT64, data.length,
                (buf, from, count) -> buf.asLongBuffer().put(data, from, count));
    }

    /** Writes {@code data}, in C order, as a bool array of the given shape. */
    public static void writeBool(Path file, long[] shape, boolean[] data) throws IOException {
        writeArray(file, shape, DType.BOOL, data.length, (buf, from, count) -> {
            for (int i = 0; i < count; i++) {
                buf.put(i, (byte) (data[from + i] ? 1 : 0));
            }
        });
    }

    /** Fills a little-endian buffer, from its start, with elements {@code from..from+count-1}. */
    @FunctionalInterface
    private interface ChunkFiller {
        void fill(ByteBuffer littleEndian, int from, int count);
    }

    private static void writeArray(Path file, long[] shape, DType dtype, int length, ChunkFiller filler)
            throws IOException {
        checkLength(shape, length);
        byte[] header = NpyHeader.encode(shape, dtype);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE);
             Arena arena = Arena.ofConfined()) {
            writeFully(ch, ByteBuffer.wrap(header));
            int perChunk = CHUNK_BYTES / dtype.bytes();
            ByteBuffer buf = arena.allocate((long) Math.min(perChunk, Math.max(length, 1)) * dtype.bytes())
                    .asByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
            // from += count, never past length: from += perChunk overflowed an int near 2^31 elements
            for (int from = 0, count; from < length; from += count) {
                count = Math.min(perChunk, length - from);
                buf.clear();
                filler.fill(buf, from, count);
                buf.limit(count * dtype.bytes());
                writeFully(ch, buf);
            }
        }
    }

    private static void checkLength(long[] shape, int length) {
        long size = 1;
        try {
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in shape " + NpyHeader.shapeString(shape));
                }
                size = Math.multiplyExact(size, d);
            }
        } catch (ArithmeticException e) {
            size = -1; // cannot match any array length
        }
        if (size != length) {
            throw new IllegalArgumentException("shape " + NpyHeader.shapeString(shape) + " has "
                    + (size < 0 ? "more than 2^63-1" : Long.toString(size)) + " elements but data has " + length);
        }
    }

    private static FileChannel open(Path file) throws NpyFormatException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new NpyFormatException(file, "cannot read: no such file", e);
        } catch (AccessDeniedException e) {
            throw new NpyFormatException(file, "cannot read: permission denied", e);
        } catch (FileSystemException e) {
            throw new NpyFormatException(file, "cannot read: "
                    + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()), e);
        } catch (IOException e) {
            throw NpyHeader.cannotRead(file, e);
        }
    }

    // The data goes into a long[]-backed segment (arrays up to 16 GiB); it is read through a
    // bounded native buffer so no temporary grows with the array.
    private static MemorySegment readData(Path file, FileChannel ch, NpyHeader header) throws NpyFormatException {
        long bytes = header.dataBytes();
        MemorySegment data = MemorySegment.ofArray(new long[(int) ((bytes + 7) / 8)]).asSlice(0, bytes);
        if (bytes == 0) {
            return data;
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment chunk = arena.allocate(Math.min(bytes, CHUNK_BYTES));
            ByteBuffer buf = chunk.asByteBuffer();
            long done = 0;
            while (done < bytes) {
                buf.clear().limit((int) Math.min(buf.capacity(), bytes - done));
                int n = ch.read(buf, header.dataOffset() + done);
                if (n < 0) {
                    throw new NpyFormatException(file, "truncated: file ended after " + done + " of "
                            + bytes + " data bytes (did it change while being read?)");
                }
                MemorySegment.copy(chunk, 0, data, done, n);
                done += n;
            }
        } catch (NpyFormatException e) {
            throw e;
        } catch (IOException e) {
            throw NpyHeader.cannotRead(file, e);
        }
        return data;
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
