package org.ringattention.tensor;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;

/**
 * A {@code .safetensors} file opened for reading: its tensors by name, memory-mapped read-only.
 *
 * <p>{@link #open} reads and validates the whole header (see {@link SafetensorsHeader} for the
 * format and the rules) and maps the file; no tensor data is read until asked for. Conversions
 * return elements in C (row-major) order as Java values: floating-point tensors (F32, F16, BF16,
 * F64) as float32 or float64, integer tensors (I32, I64, U16) as longs. F16 and BF16 widen exactly;
 * F64 rounds to nearest when narrowed to float32. Values are returned as stored: NaN and
 * infinities are the caller's to refuse.
 *
 * <p>The mapping is owned by an automatic arena, so it stays valid as long as this object or a
 * tensor from {@link #mapped} is reachable and needs no closing. As with any mapping, a file
 * truncated by another process while mapped makes reads fail. Immutable; safe to share between
 * threads.
 */
public final class SafetensorsFile {

    private static final ValueLayout.OfFloat LE_FLOAT = Tensor.LE_FLOAT;
    private static final ValueLayout.OfDouble LE_DOUBLE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final Path file;
    private final SafetensorsHeader header;
    private final MemorySegment data;

    private SafetensorsFile(Path file, SafetensorsHeader header, MemorySegment data) {
        this.file = file;
        this.header = header;
        this.data = data;
    }

    /**
     * Opens and validates {@code file}.
     *
     * @throws SafetensorsFormatException if it cannot be read (including when it does not exist)
     *     or is not a valid safetensors file of supported dtypes
     * @throws IOException on other I/O failures
     */
    public static SafetensorsFile open(Path file) throws IOException {
        if (Files.isDirectory(file)) {
            throw new SafetensorsFormatException(file, "cannot read: is a directory");
        }
        try (FileChannel ch = channel(file)) {
            long size = ch.size();
            ByteBuffer first8 = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (size >= 8) {
                readFully(file, ch, first8, 0);
            }
            long n = SafetensorsHeader.headerLength(file, first8, size);
            ByteBuffer headerBytes = ByteBuffer.allocate((int) n);
            readFully(file, ch, headerBytes, 8);
            headerBytes.flip();
            SafetensorsHeader header = SafetensorsHeader.parse(file, headerBytes, size);
            long bufferBytes = size - header.dataStart();
            MemorySegment data = bufferBytes == 0 ? MemorySegment.ofArray(new byte[0])
                    : ch.map(FileChannel.MapMode.READ_ONLY, header.dataStart(), bufferBytes, Arena.ofAuto());
            return new SafetensorsFile(file, header, data);
        } catch (SafetensorsFormatException e) {
            throw e;
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, "cannot read: " + why(e), e);
        }
    }

    /** The file. */
    public Path path() {
        return file;
    }

    /** Tensor names in the order of the header (for files written by {@link Safetensors}, the data's order). */
    public List<String> names() {
        return List.copyOf(header.entries().keySet());
    }

    /** Whether the file holds a tensor called {@code name}. */
    public boolean contains(String name) {
        return header.entries().containsKey(name);
    }

    /** The {@code __metadata__} strings, in header order; empty if the file has none. Unmodifiable. */
    public Map<String, String> metadata() {
        return header.metadata();
    }

    /** The stored element type of tensor {@code name}. */
    public DType dtype(String name) throws SafetensorsFormatException {
        return entry(name).dtype();
    }

    /** The dimensions of tensor {@code name}; a copy, empty for a scalar. */
    public long[] shape(String name) throws SafetensorsFormatException {
        return entry(name).shape().clone();
    }

    /** The number of elements of tensor {@code name}: the product of its shape, 1 for a scalar. */
    public long size(String name) throws SafetensorsFormatException {
        return entry(name).size();
    }

    /** The stored bytes of tensor {@code name} (little-endian, C order): a read-only view of the mapping. */
    public MemorySegment bytes(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = entry(name);
        return data.asSlice(e.begin(), e.bytes()).asReadOnly();
    }

    /**
     * Floating-point tensor {@code name} as float32, in C order.
     *
     * @throws SafetensorsFormatException if it is an integer tensor or too large for one array
     */
    public float[] floats(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = floating(name);
        int n = heapSize(e);
        MemorySegment src = data.asSlice(e.begin(), e.bytes());
        float[] out = new float[n];
        switch (e.dtype()) {
            case FLOAT32 -> MemorySegment.copy(src, LE_FLOAT, 0, out, 0, n);
            case FLOAT64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) src.getAtIndex(LE_DOUBLE, i);
                }
            }
            case FLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = Float.float16ToFloat(src.getAtIndex(LE_SHORT, i));
                }
            }
            case BFLOAT16 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = BFloat16.toFloat(src.getAtIndex(LE_SHORT, i));
                }
            }
            default -> throw new AssertionError(e.dtype());
        }
        return out;
    }

    /**
     * Floating-point tensor {@code name} as float64, in C order; exact for every floating dtype.
     *
     * @throws SafetensorsFormatException if it is an integer tensor or too large for one array
     */
    public double[] doubles(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = floating(name);
        if (e.dtype() != DType.FLOAT64) {
            float[] f = floats(name);
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
        int n = heapSize(e);
        double[] out = new double[n];
        MemorySegment.copy(data.asSlice(e.begin(), e.bytes()), LE_DOUBLE, 0, out, 0, n);
        return out;
    }

    /**
     * Integer tensor {@code name} (I32, I64 or U16) as longs, in C order.
     *
     * @throws SafetensorsFormatException if it is a floating-point tensor or too large for one array
     */
    public long[] longs(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = entry(name);
        if (e.dtype().isFloating()) {
            throw new SafetensorsFormatException(file, "tensor " + SafetensorsHeader.name(name)
                    + ": expected an integer tensor, got " + e.dtype().safetensorsName());
        }
        int n = heapSize(e);
        MemorySegment src = data.asSlice(e.begin(), e.bytes());
        long[] out = new long[n];
        if (e.dtype() == DType.INT64) {
            MemorySegment.copy(src, LE_LONG, 0, out, 0, n);
        } else if (e.dtype() == DType.UINT16) {
            for (int i = 0; i < n; i++) {
                out[i] = src.getAtIndex(LE_SHORT, i) & 0xffff;
            }
        } else {
            for (int i = 0; i < n; i++) {
                out[i] = src.getAtIndex(LE_INT, i);
            }
        }
        return out;
    }

    /**
     * Floating-point tensor {@code name} as a heap float32 {@link Tensor}: rank 4 is [B, H, N, d],
     * lower ranks get leading dimensions of 1 ([N, d] is [1, 1, N, d]; a scalar is [1, 1, 1, 1]).
     *
     * @throws SafetensorsFormatException if it is an integer tensor, of rank above 4, or too large
     */
    public Tensor tensor(String name) throws SafetensorsFormatException {
        int[] dims = dims(floating(name));
        return Tensor.wrap(floats(name), dims[0], dims[1], dims[2], dims[3]);
    }

    /**
     * F32 tensor {@code name} as a {@link Tensor} viewing the mapping, without copying; shapes as
     * in {@link #tensor}. The view is read-only: writing to it throws.
     *
     * @throws SafetensorsFormatException if it is not F32 or of rank above 4
     */
    public Tensor mapped(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = entry(name);
        if (e.dtype() != DType.FLOAT32) {
            throw new SafetensorsFormatException(file, "tensor " + SafetensorsHeader.name(name)
                    + ": only F32 tensors can be viewed in place, this one is " + e.dtype().safetensorsName());
        }
        int[] dims = dims(e);
        return Tensor.of(bytes(name), dims[0], dims[1], dims[2], dims[3]);
    }

    /**
     * Tensor {@code name} as an {@link NpyArray} viewing the mapping (converted only when asked),
     * so code written for {@code .npy} inputs takes safetensors tensors too; its
     * {@link NpyArray#source} is this file.
     *
     * @throws SafetensorsFormatException if it is too large for one Java array
     */
    public NpyArray array(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = entry(name);
        heapSize(e);
        return new NpyArray(file, e.shape(), e.dtype(), e.size(), data.asSlice(e.begin(), e.bytes()));
    }

    @Override
    public String toString() {
        return "SafetensorsFile[" + file + ", " + header.entries().size() + " tensors]";
    }

    private SafetensorsHeader.Entry entry(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = header.entries().get(name);
        if (e == null) {
            List<String> names = names();
            String listing = names.isEmpty() ? "the file holds no tensors"
                    : "it has " + String.join(", ", names.subList(0, Math.min(names.size(), 12)).stream()
                            .map(SafetensorsHeader::name).toList()) + (names.size() > 12 ? ", ... ("
                            + names.size() + " tensors)" : "");
            throw new SafetensorsFormatException(file, "no tensor named " + SafetensorsHeader.name(name)
                    + " (" + listing + ")");
        }
        return e;
    }

    private SafetensorsHeader.Entry floating(String name) throws SafetensorsFormatException {
        SafetensorsHeader.Entry e = entry(name);
        if (!e.dtype().isFloating()) {
            throw new SafetensorsFormatException(file, "tensor " + SafetensorsHeader.name(name)
                    + ": expected a floating-point tensor, got " + e.dtype().safetensorsName());
        }
        return e;
    }

    private int heapSize(SafetensorsHeader.Entry e) throws SafetensorsFormatException {
        if (!Npy.fitsHeap(e.size())) {
            throw new SafetensorsFormatException(file, "tensor " + SafetensorsHeader.name(e.name())
                    + ": too large to load on the heap (" + e.size() + " elements, shape "
                    + SafetensorsHeader.shapeString(e.shape()) + ")");
        }
        return (int) e.size();
    }

    private int[] dims(SafetensorsHeader.Entry e) throws SafetensorsFormatException {
        long[] shape = e.shape();
        if (shape.length > 4) {
            throw new SafetensorsFormatException(file, "tensor " + SafetensorsHeader.name(e.name()) + ": shape "
                    + SafetensorsHeader.shapeString(shape) + " has rank " + shape.length
                    + "; a tensor is [B, H, N, d] or of lower rank");
        }
        heapSize(e);
        int[] dims = {1, 1, 1, 1};
        for (int i = 0; i < shape.length; i++) {
            dims[4 - shape.length + i] = (int) shape[i];
        }
        return dims;
    }

    private static FileChannel channel(Path file) throws SafetensorsFormatException {
        try {
            return FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new SafetensorsFormatException(file, "cannot read: no such file", e);
        } catch (AccessDeniedException e) {
            throw new SafetensorsFormatException(file, "cannot read: permission denied", e);
        } catch (FileSystemException e) {
            throw new SafetensorsFormatException(file, "cannot read: "
                    + (e.getReason() != null ? e.getReason() : e.getClass().getSimpleName()), e);
        } catch (IOException e) {
            throw new SafetensorsFormatException(file, "cannot read: " + why(e), e);
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long position) throws IOException {
        long p = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, p);
            if (n < 0) {
                throw new SafetensorsFormatException(file, "truncated: file ended at byte " + p
                        + " while reading the header (did it change while being read?)");
            }
            p += n;
        }
    }

    private static String why(IOException e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }
}
