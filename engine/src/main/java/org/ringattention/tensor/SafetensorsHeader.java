package org.ringattention.tensor;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The validated header of a {@code .safetensors} file: its tensors (name, dtype, shape, byte range
 * in the data buffer) in header order, and its optional string metadata.
 *
 * <p>A safetensors file is an unsigned little-endian 64-bit header length n, n bytes of UTF-8
 * JSON, then the data buffer. The JSON is an object mapping each tensor name to
 * {@code {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}}, offsets relative to the
 * start of the buffer, end exclusive, elements little-endian in C order; the optional key
 * {@code "__metadata__"} maps strings to strings. The header starts with {@code '{'} and may be
 * padded at the end with spaces (writers pad so the buffer starts 8-byte aligned).
 *
 * <p>Validation follows the reference implementation's rules, which are stricter than "it parses":
 * every tensor's byte count equals its dtype size times its element count, and the tensors'
 * ranges tile the buffer exactly, without overlap, gap or trailing bytes (so a file cannot hide
 * a second payload). Everything is checked before any data is touched, and nothing of a claimed
 * size is allocated before the claim is checked against the file's size.
 */
final class SafetensorsHeader {

    /** Largest header accepted; the reference implementation's limit too. */
    static final long MAX_HEADER_BYTES = 100_000_000L;

    static final String METADATA_KEY = "__metadata__";

    /** Listed in error messages. */
    static final String SUPPORTED = "F32, F16, BF16, F64, I32, I64, U16";

    /** Types of the format that this engine does not convert: named "unsupported", not "unknown". */
    private static final Set<String> OTHER_KNOWN_DTYPES = Set.of("BOOL", "U8", "I8", "I16", "U32", "U64",
            "F8_E5M2", "F8_E4M3", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64");

    private static final List<String> ENTRY_KEYS = List.of("dtype", "shape", "data_offsets");

    /** One tensor of the header. */
    record Entry(String name, DType dtype, long[] shape, long size, long begin, long end) {
        long bytes() {
            return end - begin;
        }
    }

    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;
    private final long dataStart;

    private SafetensorsHeader(Map<String, Entry> entries, Map<String, String> metadata, long dataStart) {
        this.entries = entries;
        this.metadata = metadata;
        this.dataStart = dataStart;
    }

    /** Tensors by name, in header order; unmodifiable. */
    Map<String, Entry> entries() {
        return entries;
    }

    /** The {@code __metadata__} map, in header order; empty if absent; unmodifiable. */
    Map<String, String> metadata() {
        return metadata;
    }

    /** File offset of the data buffer. */
    long dataStart() {
        return dataStart;
    }

    /** Reads the length prefix of a file of {@code fileSize} bytes: the header's byte count. */
    static long headerLength(Path file, ByteBuffer first8, long fileSize) throws SafetensorsFormatException {
        if (fileSize < 8) {
            throw new SafetensorsFormatException(file, "too short to be a .safetensors file (" + fileSize
                    + " bytes; the header length alone is 8)");
        }
        long n = first8.getLong(0);
        if (n < 0 || n > MAX_HEADER_BYTES) {
            throw new SafetensorsFormatException(file, "header length " + Long.toUnsignedString(n)
                    + " exceeds the limit of " + MAX_HEADER_BYTES + " bytes (not a .safetensors file?)");
        }
        if (n > fileSize - 8) {
            throw new SafetensorsFormatException(file, "truncated header: header length field says " + n
                    + " bytes, file has " + (fileSize - 8) + " after it");
        }
        return n;
    }

    /** Parses and validates the header bytes of a file of {@code fileSize} bytes. */
    static SafetensorsHeader parse(Path file, ByteBuffer headerBytes, long fileSize)
            throws SafetensorsFormatException {
        int length = headerBytes.remaining();
        if (length == 0 || headerBytes.get(headerBytes.position()) != '{') {
            throw new SafetensorsFormatException(file, "header does not start with '{' (not a .safetensors file?)");
        }
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(headerBytes).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsFormatException(file, "header is not valid UTF-8", e);
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> top = (Map<String, Object>) SafetensorsJson.parse(file, text);
        long dataStart = 8L + length;
        long bufferBytes = fileSize - dataStart;

        Map<String, String> metadata = Map.of();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : top.entrySet()) {
            if (e.getKey().equals(METADATA_KEY)) {
                metadata = metadata(file, e.getValue());
            } else {
                entries.put(e.getKey(), entry(file, e.getKey(), e.getValue(), bufferBytes));
            }
        }
        checkTiling(file, entries.values(), bufferBytes);
        return new SafetensorsHeader(java.util.Collections.unmodifiableMap(entries), metadata, dataStart);
    }

    /** {@code s} with control characters escaped, so messages stay one printable line. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || (c >= 0x7f && c < 0xa0)) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    /** A tensor name as messages show it: {@code 'q'}. */
    static String name(String name) {
        return "'" + printable(name) + "'";
    }

    static String shapeString(long[] shape) {
        return Arrays.toString(shape);
    }

    private static Map<String, String> metadata(Path file, Object value) throws SafetensorsFormatException {
        if (value == SafetensorsJson.NULL) {
            return Map.of();
        }
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsFormatException(file, "'" + METADATA_KEY + "' must be an object of strings, got "
                    + describe(value));
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : map.entrySet()) {
            if (!(e.getValue() instanceof String s)) {
                throw new SafetensorsFormatException(file, "'" + METADATA_KEY + "' value of " + name((String) e.getKey())
                        + " must be a string, got " + describe(e.getValue()));
            }
            out.put((String) e.getKey(), s);
        }
        return java.util.Collections.unmodifiableMap(out);
    }

    private static Entry entry(Path file, String name, Object value, long bufferBytes)
            throws SafetensorsFormatException {
        String where = "tensor " + name(name) + ": ";
        if (!(value instanceof Map<?, ?> map)) {
            throw new SafetensorsFormatException(file, where + "expected an object with dtype, shape and data_offsets,"
                    + " got " + describe(value));
        }
        for (Object key : map.keySet()) {
            if (!ENTRY_KEYS.contains(key)) {
                throw new SafetensorsFormatException(file, where + "unexpected key " + name((String) key)
                        + " (expected dtype, shape, data_offsets)");
            }
        }
        for (String key : ENTRY_KEYS) {
            if (!map.containsKey(key)) {
                throw new SafetensorsFormatException(file, where + "missing key '" + key + "'");
            }
        }
        DType dtype = dtype(file, where, map.get("dtype"));
        long[] shape = integers(file, where, "shape", map.get("shape"), -1);
        long[] offsets = integers(file, where, "data_offsets", map.get("data_offsets"), 2);
        long size = 1;
        for (long d : shape) {
            if (d == 0) {
                size = 0;
                break;
            }
        }
        long needed;
        try {
            if (size != 0) {
                for (long d : shape) {
                    size = Math.multiplyExact(size, d);
                }
            }
            needed = Math.multiplyExact(size, dtype.bytes());
        } catch (ArithmeticException e) {
            throw new SafetensorsFormatException(file, where + "shape " + shapeString(shape)
                    + " overflows: more than 2^63-1 bytes of " + dtype.safetensorsName());
        }
        long begin = offsets[0];
        long end = offsets[1];
        String range = "data_offsets [" + begin + ", " + end + "]";
        if (begin > end) {
            throw new SafetensorsFormatException(file, where + range + " end before they begin");
        }
        if (end > bufferBytes) {
            throw new SafetensorsFormatException(file, where + range + " lie outside the data buffer ("
                    + bufferBytes + " bytes after the header)");
        }
        if (end - begin != needed) {
            throw new SafetensorsFormatException(file, where + range + " hold " + (end - begin) + " bytes, but "
                    + dtype.safetensorsName() + " " + shapeString(shape) + " needs " + needed);
        }
        return new Entry(name, dtype, shape, size, begin, end);
    }

    private static DType dtype(Path file, String where, Object value) throws SafetensorsFormatException {
        if (!(value instanceof String s)) {
            throw new SafetensorsFormatException(file, where + "dtype must be a string, got " + describe(value));
        }
        var t = DType.ofSafetensorsName(s);
        if (t.isPresent()) {
            return t.get();
        }
        throw new SafetensorsFormatException(file, where + (OTHER_KNOWN_DTYPES.contains(s) ? "unsupported" : "unknown")
                + " dtype " + name(s) + " (supported: " + SUPPORTED + ")");
    }

    // Non-negative integers; exactly `count` of them unless count < 0.
    private static long[] integers(Path file, String where, String key, Object value, int count)
            throws SafetensorsFormatException {
        String expected = count < 0 ? "an array of non-negative integers" : "an array of " + count
                + " non-negative integers";
        if (!(value instanceof List<?> list) || (count >= 0 && list.size() != count)) {
            throw new SafetensorsFormatException(file, where + key + " must be " + expected + ", got "
                    + describe(value));
        }
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = list.get(i);
            if (v instanceof BigInteger big && big.signum() > 0) {
                throw new SafetensorsFormatException(file, where + key + " value " + big + " is too large");
            }
            if (!(v instanceof Long n) || n < 0) {
                throw new SafetensorsFormatException(file, where + key + " must be " + expected + ", got "
                        + describe(value));
            }
            out[i] = n;
        }
        return out;
    }

    // The ranges, sorted by start, must follow one another from 0 to the end of the buffer.
    private static void checkTiling(Path file, java.util.Collection<Entry> entries, long bufferBytes)
            throws SafetensorsFormatException {
        List<Entry> sorted = new ArrayList<>(entries);
        sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
        long next = 0;
        Entry previous = null;
        for (Entry e : sorted) {
            if (e.begin() < next) {
                throw new SafetensorsFormatException(file, "tensors " + name(previous.name()) + " and " + name(e.name())
                        + " overlap: data_offsets [" + previous.begin() + ", " + previous.end() + "] and ["
                        + e.begin() + ", " + e.end() + "]");
            }
            if (e.begin() > next) {
                throw new SafetensorsFormatException(file, "gap in the data buffer: bytes [" + next + ", " + e.begin()
                        + ") belong to no tensor (before tensor " + name(e.name()) + ")");
            }
            next = e.end();
            if (e.end() > e.begin()) {
                previous = e;
            }
        }
        if (next != bufferBytes) {
            throw new SafetensorsFormatException(file, "trailing data: " + (bufferBytes - next) + " bytes after the"
                    + " last tensor's data (the data buffer is " + bufferBytes + " bytes, the tensors cover " + next + ")");
        }
    }

    private static String describe(Object v) {
        String s;
        if (v instanceof String str) {
            s = SafetensorsJson.quote(str);
        } else if (v instanceof Map<?, ?>) {
            s = "an object";
        } else if (v instanceof List<?> l) {
            StringBuilder sb = new StringBuilder("[");
            for (int i = 0; i < l.size() && i < 8; i++) {
                sb.append(i == 0 ? "" : ", ").append(l.get(i) instanceof List<?> || l.get(i) instanceof Map<?, ?>
                        ? describe(l.get(i)) : String.valueOf(l.get(i)));
            }
            s = sb.append(l.size() > 8 ? ", ...]" : "]").toString();
        } else {
            s = String.valueOf(v);
        }
        return printable(s.length() > 80 ? s.substring(0, 77) + "..." : s);
    }
}
