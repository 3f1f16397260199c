package org.ringattention.model;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The tensors of a {@code .safetensors} file, memory-mapped: an 8-byte little-endian header length
 * n, n bytes of JSON ({@code {"name": {"dtype", "shape", "data_offsets": [begin, end]}, ...}},
 * offsets from the end of the header), then the data, row-major little-endian. F32, BF16 and F16
 * are widened to float32 when read. The mapping lives until {@link #close}.
 *
 * <p>A stopgap of the model module until the engine's safetensors reader lands; the format checks
 * here (offsets inside the file, sizes matching shape and dtype) are what a reader must do
 * anyway.
 */
final class Checkpoint implements WeightSource, AutoCloseable {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfShort I16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long MAX_HEADER = 100L << 20;

    private record Info(String dtype, long[] shape, long begin, long end) {
    }

    private final Path file;
    private final Arena arena;
    private final MemorySegment data;
    private final Map<String, Info> tensors = new LinkedHashMap<>();

    private Checkpoint(Path file, Arena arena, MemorySegment data) {
        this.file = file;
        this.arena = arena;
        this.data = data;
    }

    /** Maps {@code file} and reads its header; a malformed file is a {@link ModelFormatException} naming it. */
    static Checkpoint open(Path file) throws IOException {
        Arena arena = Arena.ofShared();
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size < 8) {
                throw new ModelFormatException(file + ": too short for a safetensors file (" + size + " bytes)");
            }
            MemorySegment all = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            long n = all.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
            if (n < 2 || n > MAX_HEADER || 8 + n > size) {
                throw new ModelFormatException(file + ": header length " + n + " does not fit a file of " + size
                        + " bytes");
            }
            byte[] header = all.asSlice(8, n).toArray(ValueLayout.JAVA_BYTE);
            Checkpoint c = new Checkpoint(file, arena, all.asSlice(8 + n));
            c.parseHeader(new String(header, StandardCharsets.UTF_8));
            return c;
        } catch (NoSuchFileException e) {
            arena.close();
            throw new ModelFormatException(file + ": no such file");
        } catch (IOException | RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private void parseHeader(String text) throws ModelFormatException {
        JsonNode root;
        try {
            root = JSON.readTree(text);
        } catch (IOException e) {
            throw new ModelFormatException(file + ": header is not valid JSON");
        }
        if (root == null || !root.isObject()) {
            throw new ModelFormatException(file + ": header is not a JSON object");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = root.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            JsonNode t = e.getValue();
            JsonNode dtype = t.get("dtype");
            JsonNode shape = t.get("shape");
            JsonNode offs = t.get("data_offsets");
            if (dtype == null || !dtype.isTextual() || shape == null || !shape.isArray() || offs == null
                    || !offs.isArray() || offs.size() != 2) {
                throw new ModelFormatException(file + ": tensor " + name + " needs dtype, shape and data_offsets");
            }
            long[] dims = new long[shape.size()];
            long count = 1;
            for (int i = 0; i < dims.length; i++) {
                dims[i] = shape.get(i).asLong(-1);
                if (dims[i] < 0) {
                    throw new ModelFormatException(file + ": tensor " + name + " has a bad shape " + shape);
                }
                count *= dims[i];
            }
            long begin = offs.get(0).asLong(-1);
            long end = offs.get(1).asLong(-1);
            int width = switch (dtype.asText()) {
                case "F32" -> 4;
                case "BF16", "F16" -> 2;
                default -> 0;
            };
            if (begin < 0 || end < begin || end > data.byteSize()) {
                throw new ModelFormatException(file + ": tensor " + name + " has data_offsets [" + begin + ", " + end
                        + "] outside the " + data.byteSize() + " data bytes");
            }
            if (width != 0 && end - begin != count * width) {
                throw new ModelFormatException(file + ": tensor " + name + " holds " + (end - begin) + " bytes, its "
                        + dtype.asText() + " shape " + shape + " needs " + count * width);
            }
            tensors.put(name, new Info(dtype.asText(), dims, begin, end));
        }
    }

    @Override
    public Set<String> names() {
        return tensors.keySet();
    }

    @Override
    public long[] shape(String name) {
        Info i = tensors.get(name);
        return i == null ? null : i.shape().clone();
    }

    @Override
    public float[] floats(String name) throws ModelFormatException {
        Info info = tensors.get(name);
        if (info == null) {
            throw new ModelFormatException(file + ": missing tensor " + name);
        }
        long bytes = info.end() - info.begin();
        MemorySegment s = data.asSlice(info.begin(), bytes);
        switch (info.dtype()) {
            case "F32" -> {
                float[] x = new float[Math.toIntExact(bytes / 4)];
                MemorySegment.copy(s, F32, 0, x, 0, x.length);
                return x;
            }
            case "BF16" -> {
                float[] x = new float[Math.toIntExact(bytes / 2)];
                for (int i = 0; i < x.length; i++) {
                    x[i] = Float.intBitsToFloat((s.getAtIndex(I16, i) & 0xFFFF) << 16);
                }
                return x;
            }
            case "F16" -> {
                float[] x = new float[Math.toIntExact(bytes / 2)];
                for (int i = 0; i < x.length; i++) {
                    x[i] = Float.float16ToFloat(s.getAtIndex(I16, i));
                }
                return x;
            }
            default -> throw new ModelFormatException(file + ": tensor " + name + " has dtype " + info.dtype()
                    + " (supported: F32, BF16, F16)");
        }
    }

    @Override
    public String describe() {
        return file.toString();
    }

    @Override
    public void close() {
        arena.close();
    }

    /** Writes {@code tensors} as F32 to {@code file} (header padded with spaces to a multiple of 8 bytes). */
    static void writeF32(Path file, Map<String, InMemoryWeights.Entry> tensors) throws IOException {
        ObjectNode header = JSON.createObjectNode();
        header.putObject("__metadata__").put("format", "pt");
        long offset = 0;
        for (Map.Entry<String, InMemoryWeights.Entry> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", "F32");
            var shape = t.putArray("shape");
            for (long s : e.getValue().shape()) {
                shape.add(s);
            }
            long bytes = 4L * e.getValue().data().length;
            t.putArray("data_offsets").add(offset).add(offset + bytes);
            offset += bytes;
        }
        StringBuilder text = new StringBuilder(JSON.writeValueAsString(header));
        while (text.toString().getBytes(StandardCharsets.UTF_8).length % 8 != 0) {
            text.append(' ');
        }
        byte[] h = text.toString().getBytes(StandardCharsets.UTF_8);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            ByteBuffer head = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN);
            head.putLong(h.length).put(h).flip();
            while (head.hasRemaining()) {
                ch.write(head);
            }
            ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
            for (InMemoryWeights.Entry e : tensors.values()) {
                for (float f : e.data()) {
                    if (!buf.hasRemaining()) {
                        buf.flip();
                        while (buf.hasRemaining()) {
                            ch.write(buf);
                        }
                        buf.clear();
                    }
                    buf.putFloat(f);
                }
            }
            buf.flip();
            while (buf.hasRemaining()) {
                ch.write(buf);
            }
        }
    }

    /** Reads the {@code weight_map} of a {@code model.safetensors.index.json}: tensor name to file name. */
    static Map<String, String> readIndex(Path index) throws IOException {
        JsonNode root;
        try {
            root = JSON.readTree(Files.readString(index));
        } catch (NoSuchFileException e) {
            throw new ModelFormatException(index + ": no such file");
        } catch (IOException e) {
            throw new ModelFormatException(index + ": not valid JSON");
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) {
            throw new ModelFormatException(index + ": no weight_map object");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.properties().iterator(); it.hasNext();) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new ModelFormatException(index + ": weight_map entry " + e.getKey() + " is not a file name");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    /** Writes an index mapping every tensor to its file. */
    static void writeIndex(Path index, Map<String, String> weightMap, long totalBytes) throws IOException {
        ObjectNode root = JSON.createObjectNode();
        root.putObject("metadata").put("total_size", totalBytes);
        ObjectNode map = root.putObject("weight_map");
        weightMap.forEach(map::put);
        Files.writeString(index, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root) + "\n");
    }
}
