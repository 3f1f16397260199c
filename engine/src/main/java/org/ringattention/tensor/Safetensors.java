package org.ringattention.tensor;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.Map;
import java.util.Objects;
import java.util.SequencedMap;

/**
 * Writes {@code .safetensors} files; {@link SafetensorsFile} reads them.
 *
 * <p>The layout is the format's (see {@link SafetensorsHeader}): the 8-byte little-endian header
 * length, the JSON header with {@code "__metadata__"} first if there is any, then the tensors in
 * the caller's order, their data packed back to back in that same order. The header is padded
 * with spaces so the data buffer starts at a multiple of 8 bytes, as the reference writer does.
 * Unlike the reference writer, tensors are not reordered by dtype, so a tensor may start at an
 * offset that is not a multiple of its element size; readers of the format must not assume
 * alignment (this engine's reader does not).
 *
 * <p>The file is written to a temporary file beside the target and renamed over it only when
 * complete, so a failed write leaves an existing file as it was.
 */
public final class Safetensors {

    /** I/O is done in pieces of at most this many bytes. */
    private static final int CHUNK_BYTES = 1 << 20;
    private static final int ALIGN = 8;

    private Safetensors() {
    }

    /**
     * One tensor to write: its dtype, shape and elements, already encoded as little-endian bytes
     * in C order. Build it with the factories, which convert Java arrays to the stored type.
     */
    public record TensorData(DType dtype, long[] shape, MemorySegment bytes) {

        /** Checks that {@code bytes} holds exactly dtype × shape; copies the shape. */
        public TensorData {
            Objects.requireNonNull(dtype, "dtype");
            shape = shape.clone();
            long size = 1;
            for (long d : shape) {
                if (d < 0) {
                    throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
                }
                size = Math.multiplyExact(size, d);
            }
            if (Math.multiplyExact(size, dtype.bytes()) != bytes.byteSize()) {
                throw new IllegalArgumentException(dtype.safetensorsName() + " " + Arrays.toString(shape) + " needs "
                        + size * dtype.bytes() + " bytes, data has " + bytes.byteSize());
            }
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /**
         * {@code data} stored as {@code dtype}, which must be floating point: F32 and F64 exactly,
         * F16 and BF16 rounded to nearest, ties to even (see {@link BFloat16}).
         */
        public static TensorData ofFloats(DType dtype, long[] shape, float[] data) {
            if (!dtype.isFloating()) {
                throw new IllegalArgumentException("floats cannot be stored as " + dtype.safetensorsName());
            }
            MemorySegment out = MemorySegment.ofArray(new byte[Math.multiplyExact(data.length, dtype.bytes())]);
            for (int i = 0; i < data.length; i++) {
                switch (dtype) {
                    case FLOAT32 -> out.setAtIndex(LE_FLOAT, i, data[i]);
                    case FLOAT64 -> out.setAtIndex(LE_DOUBLE, i, data[i]);
                    case FLOAT16 -> out.setAtIndex(LE_SHORT, i, Float.floatToFloat16(data[i]));
                    case BFLOAT16 -> out.setAtIndex(LE_SHORT, i, BFloat16.fromFloat(data[i]));
                    default -> throw new AssertionError(dtype);
                }
            }
            return new TensorData(dtype, shape, out);
        }

        /**
         * {@code data} stored as {@code dtype}, which must be floating point: F64 exactly, the
         * others rounded to nearest (F16 and BF16 through float32, so a value halfway between two
         * of them after the first rounding can round once more).
         */
        public static TensorData ofDoubles(DType dtype, long[] shape, double[] data) {
            if (dtype == DType.FLOAT64) {
                MemorySegment out = MemorySegment.ofArray(new byte[Math.multiplyExact(data.length, 8)]);
                MemorySegment.copy(data, 0, out, LE_DOUBLE, 0, data.length);
                return new TensorData(dtype, shape, out);
            }
            float[] f = new float[data.length];
            for (int i = 0; i < f.length; i++) {
                f[i] = (float) data[i];
            }
            return ofFloats(dtype, shape, f);
        }

        /** {@code data} as I32. */
        public static TensorData ofInts(long[] shape, int[] data) {
            MemorySegment out = MemorySegment.ofArray(new byte[Math.multiplyExact(data.length, 4)]);
            MemorySegment.copy(data, 0, out, LE_INT, 0, data.length);
            return new TensorData(DType.INT32, shape, out);
        }

        /** {@code data} as I64. */
        public static TensorData ofLongs(long[] shape, long[] data) {
            MemorySegment out = MemorySegment.ofArray(new byte[Math.multiplyExact(data.length, 8)]);
            MemorySegment.copy(data, 0, out, LE_LONG, 0, data.length);
            return new TensorData(DType.INT64, shape, out);
        }
    }

    private static final ValueLayout.OfFloat LE_FLOAT = Tensor.LE_FLOAT;
    private static final ValueLayout.OfDouble LE_DOUBLE =
            ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort LE_SHORT =
            ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG =
            ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Writes {@code tensors}, in their map order, without metadata. */
    public static void write(Path file, SequencedMap<String, TensorData> tensors) throws IOException {
        write(file, tensors, Map.of());
    }

    /**
     * Writes {@code tensors}, in their map order, and {@code metadata} (in its iteration order)
     * as the header's {@code "__metadata__"}, omitted when empty. Atomic: see the class comment.
     *
     * @throws IllegalArgumentException if a name is {@code "__metadata__"}
     */
    public static void write(Path file, SequencedMap<String, TensorData> tensors, Map<String, String> metadata)
            throws IOException {
        byte[] header = header(tensors, metadata);
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(file, temp -> writeTo(temp, header, tensors));
            staged.commit();
        }
    }

    /** The length prefix and padded JSON header for {@code tensors} packed in their order. */
    static byte[] header(SequencedMap<String, TensorData> tensors, Map<String, String> metadata) {
        StringBuilder json = new StringBuilder("{");
        if (!metadata.isEmpty()) {
            json.append(SafetensorsJson.quote(SafetensorsHeader.METADATA_KEY)).append(":{");
            boolean first = true;
            for (Map.Entry<String, String> e : metadata.entrySet()) {
                json.append(first ? "" : ",").append(SafetensorsJson.quote(e.getKey())).append(':')
                        .append(SafetensorsJson.quote(Objects.requireNonNull(e.getValue(), "metadata value")));
                first = false;
            }
            json.append('}');
        }
        long offset = 0;
        for (Map.Entry<String, TensorData> e : tensors.entrySet()) {
            if (e.getKey().equals(SafetensorsHeader.METADATA_KEY)) {
                throw new IllegalArgumentException("\"" + SafetensorsHeader.METADATA_KEY + "\" is reserved, not a tensor name");
            }
            TensorData t = e.getValue();
            long end = offset + t.bytes().byteSize();
            json.append(json.length() > 1 ? "," : "").append(SafetensorsJson.quote(e.getKey()))
                    .append(":{\"dtype\":\"").append(t.dtype().safetensorsName()).append("\",\"shape\":[");
            long[] shape = t.shape();
            for (int i = 0; i < shape.length; i++) {
                json.append(i == 0 ? "" : ",").append(shape[i]);
            }
            json.append("],\"data_offsets\":[").append(offset).append(',').append(end).append("]}");
            offset = end;
        }
        json.append('}');
        byte[] text = json.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (text.length + ALIGN - 1) / ALIGN * ALIGN;
        ByteBuffer out = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(padded).put(text);
        while (out.hasRemaining()) {
            out.put((byte) ' ');
        }
        return out.array();
    }

    private static void writeTo(Path temp, byte[] header, SequencedMap<String, TensorData> tensors)
            throws IOException {
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
            writeFully(ch, ByteBuffer.wrap(header));
            byte[] chunk = new byte[CHUNK_BYTES];
            for (TensorData t : tensors.values()) {
                MemorySegment bytes = t.bytes();
                for (long from = 0; from < bytes.byteSize(); from += CHUNK_BYTES) {
                    int count = (int) Math.min(CHUNK_BYTES, bytes.byteSize() - from);
                    MemorySegment.copy(bytes, ValueLayout.JAVA_BYTE, from, chunk, 0, count);
                    writeFully(ch, ByteBuffer.wrap(chunk, 0, count));
                }
            }
        }
    }

    private static void writeFully(FileChannel ch, ByteBuffer buf) throws IOException {
        while (buf.hasRemaining()) {
            ch.write(buf);
        }
    }
}
