package org.ringattention.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;

/**
 * A float32 {@code .npy} file memory-mapped in place: its data, little-endian and row-major, is a
 * {@link Tensor} of {@link MemorySegment} storage, so a tensor larger than the heap (or than 2^31
 * elements) is read and written page by page by the operating system, never copied whole.
 *
 * <p>Inputs are mapped read-only ({@link #openReadOnly}); only files as {@code numpy.save} writes
 * float32 arrays ({@code '<f4'}, C order) can be, other dtypes are read onto the heap with
 * {@link Npy#read}. Outputs are created at their final size, header first, and mapped read-write
 * ({@link #create}); {@link #force} writes the dirty pages to disk. Rank 2 [N, d] and 3 [H, N, d]
 * files are viewed as [1, 1, N, d] and [1, H, N, d]; rank 1 [N] as [1, 1, N, 1] (an LSE row).
 *
 * <p>The mapping lives as long as the {@link Arena} given: closing it unmaps the file, after which
 * the tensor must not be used.
 */
public final class MappedNpy {

    private final Path file;
    private final long[] shape;
    private final MemorySegment data;
    private final Tensor tensor;

    private MappedNpy(Path file, long[] shape, MemorySegment data) {
        this.file = file;
        this.shape = shape;
        this.data = data;
        int[] d = dims(shape);
        this.tensor = Tensor.of(data, d[0], d[1], d[2], d[3]);
    }

    /**
     * Whether {@code file} is a float32 little-endian C-order {@code .npy} file of rank 1 to 4:
     * what {@link #openReadOnly} can map. False for anything else, including unreadable files.
     */
    public static boolean mappable(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            return mappable(NpyHeader.parse(file, ch));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean mappable(NpyHeader h) {
        long[] s = h.shape();
        // little-endian only, even for one element: its four bytes are read in place as they lie
        return h.dtype() == DType.FLOAT32 && !h.fortranOrder() && h.byteOrder() == ByteOrder.LITTLE_ENDIAN
                && s.length >= 1 && s.length <= 4 && Arrays.stream(s).allMatch(n -> n >= 1 && n <= Integer.MAX_VALUE);
    }

    /**
     * Maps a float32 {@code .npy} file read-only for the life of {@code arena}.
     *
     * @throws NpyFormatException if the file cannot be read or is not a mappable float32 file
     */
    public static MappedNpy openReadOnly(Path file, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            NpyHeader h = NpyHeader.parse(file, ch);
            if (!mappable(h)) {
                throw new NpyFormatException(file, "cannot be memory-mapped (need float32 '<f4', C order, rank 1 to 4,"
                        + " got " + h + ")");
            }
            if (ch.size() < h.dataOffset() + h.dataBytes()) {
                throw new NpyFormatException(file, "truncated: " + ch.size() + " bytes, the header announces "
                        + (h.dataOffset() + h.dataBytes()));
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, h.dataOffset(), h.dataBytes(), arena);
            return new MappedNpy(file, h.shape(), seg);
        } catch (NoSuchFileException e) {
            throw new NpyFormatException(file, "cannot read: no such file", e);
        }
    }

    /**
     * Creates {@code file} (which must not exist) as a float32 {@code .npy} file of {@code shape}
     * at its final size, data zero, and maps it read-write for the life of {@code arena}.
     */
    public static MappedNpy create(Path file, long[] shape, Arena arena) throws IOException {
        byte[] header = NpyHeader.encode(shape, DType.FLOAT32);
        long bytes = Math.multiplyExact(elements(shape), (long) Float.BYTES);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE_NEW, StandardOpenOption.READ,
                StandardOpenOption.WRITE)) {
            ByteBuffer buf = ByteBuffer.wrap(header);
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
            if (bytes > 0) { // a sparse file: the pages come when written
                ch.write(ByteBuffer.allocate(1), header.length + bytes - 1);
            }
            MemorySegment seg = ch.map(FileChannel.MapMode.READ_WRITE, header.length, bytes, arena);
            return new MappedNpy(file, shape.clone(), seg);
        }
    }

    /**
     * Maps an existing float32 {@code .npy} file of exactly {@code shape} read-write (to continue
     * writing a file made by {@link #create}).
     *
     * @throws NpyFormatException if the file is not such a file
     */
    public static MappedNpy openReadWrite(Path file, long[] shape, Arena arena) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            NpyHeader h = NpyHeader.parse(file, ch);
            if (!mappable(h) || !Arrays.equals(h.shape(), shape)) {
                throw new NpyFormatException(file, "is not a float32 array of shape " + NpyHeader.shapeString(shape));
            }
            if (ch.size() != h.dataOffset() + h.dataBytes()) {
                throw new NpyFormatException(file, "has " + ch.size() + " bytes, expected "
                        + (h.dataOffset() + h.dataBytes()));
            }
            return new MappedNpy(file, h.shape(), ch.map(FileChannel.MapMode.READ_WRITE, h.dataOffset(),
                    h.dataBytes(), arena));
        }
    }

    /** The file. */
    public Path file() {
        return file;
    }

    /** The file's shape; a copy. */
    public long[] shape() {
        return shape.clone();
    }

    /** The data as a [B, H, N, d] tensor (see the class comment for lower ranks). */
    public Tensor tensor() {
        return tensor;
    }

    /**
     * The data as a [B, H, N, d] tensor of another shape with the same number of elements: an LSE
     * file [B, H, N] viewed as [B, H, N, 1], for example.
     */
    public Tensor view(int batch, int heads, int rows, int dim) {
        return Tensor.of(data, batch, heads, rows, dim);
    }

    /** Writes the mapping's dirty pages to the file (no-op for a read-only mapping). */
    public void force() {
        if (!data.isReadOnly()) {
            data.force();
        }
    }

    /** Size of a file holding {@code shape} as float32. */
    public static long fileBytes(long[] shape) {
        return NpyHeader.encode(shape, DType.FLOAT32).length + elements(shape) * Float.BYTES;
    }

    /** Whether {@code file} exists and has the size a float32 file of {@code shape} has. */
    public static boolean hasSizeOf(Path file, long[] shape) throws IOException {
        return Files.isRegularFile(file) && Files.size(file) == fileBytes(shape);
    }

    private static long elements(long[] shape) {
        long n = 1;
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in " + NpyHeader.shapeString(shape));
            }
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    private static int[] dims(long[] shape) {
        int[] d = {1, 1, 1, 1};
        if (shape.length == 1) {
            d[2] = Math.toIntExact(shape[0]);
            return d;
        }
        if (shape.length < 1 || shape.length > 4) {
            throw new IllegalArgumentException("rank " + shape.length + " is not 1 to 4");
        }
        for (int i = 0; i < shape.length; i++) {
            d[4 - shape.length + i] = Math.toIntExact(shape[i]);
        }
        return d;
    }
}
