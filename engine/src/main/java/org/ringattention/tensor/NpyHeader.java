package org.ringattention.tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

/**
 * The parsed preamble of a {@code .npy} file: shape, dtype, byte order, whether the data is in
 * Fortran (column-major) order, and where the data starts.
 *
 * <p>A {@code .npy} file is the magic string {@code \x93NUMPY}, a two-byte version, a
 * little-endian header length (2 bytes in version 1.0, 4 bytes in 2.0 and 3.0), the header
 * (a Python dict literal, latin-1 before 3.0 and UTF-8 in 3.0) and then the raw elements. This
 * class reads and validates everything up to the data, including that the file holds exactly
 * as many data bytes as the shape claims, but never the data itself, so both the heap reader
 * ({@link Npy#read}) and a memory-mapping reader can use it, and a hostile header is refused
 * before anything of its claimed size is allocated.
 */
public final class NpyHeader {

    /** Largest header accepted; NumPy's own headers are well under 1 KiB. */
    public static final int MAX_HEADER_BYTES = 1 << 20;

    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    /** NumPy pads the header so the data starts at a multiple of this. */
    private static final int ALIGN = 64;

    private final long[] shape;
    private final DType dtype;
    private final ByteOrder byteOrder;
    private final boolean fortranOrder;
    private final long dataOffset;
    private final long size;

    private NpyHeader(long[] shape, DType dtype, ByteOrder byteOrder, boolean fortranOrder,
                      long dataOffset, long size) {
        this.shape = shape;
        this.dtype = dtype;
        this.byteOrder = byteOrder;
        this.fortranOrder = fortranOrder;
        this.dataOffset = dataOffset;
        this.size = size;
    }

    /** The dimensions; a copy. Empty for a rank-0 (scalar) array. */
    public long[] shape() {
        return shape.clone();
    }

    /** Number of dimensions. */
    public int rank() {
        return shape.length;
    }

    /** Element type. */
    public DType dtype() {
        return dtype;
    }

    /** Byte order of the stored elements. */
    public ByteOrder byteOrder() {
        return byteOrder;
    }

    /** Whether the elements are stored in column-major (Fortran) order. */
    public boolean fortranOrder() {
        return fortranOrder;
    }

    /** File offset of the first data byte. */
    public long dataOffset() {
        return dataOffset;
    }

    /** Number of elements: the product of the shape, 1 for rank 0. */
    public long size() {
        return size;
    }

    /** Number of data bytes: {@code size() * dtype().bytes()}. */
    public long dataBytes() {
        return size * dtype.bytes();
    }

    @Override
    public String toString() {
        return "NpyHeader[shape=" + shapeString(shape) + ", dtype=" + dtype + ", byteOrder=" + byteOrder
                + ", fortranOrder=" + fortranOrder + ", dataOffset=" + dataOffset + "]";
    }

    /**
     * Reads and validates the header of {@code file} through {@code ch}, using positional reads
     * (the channel's position is not changed). {@code file} only names the file in errors.
     *
     * @throws NpyFormatException if the file is not a supported, complete {@code .npy} file
     *     (including a data section shorter or longer than the shape claims), or cannot be read
     */
    public static NpyHeader parse(Path file, FileChannel ch) throws NpyFormatException {
        long fileSize;
        try {
            fileSize = ch.size();
        } catch (IOException e) {
            throw cannotRead(file, e);
        }
        if (fileSize == 0) {
            throw new NpyFormatException(file, "empty file (0 bytes), not a .npy file");
        }
        if (fileSize < MAGIC.length) {
            throw new NpyFormatException(file, "too short to be a .npy file (" + fileSize
                    + " bytes; the magic string alone is " + MAGIC.length + ")");
        }
        ByteBuffer pre = ByteBuffer.allocate((int) Math.min(fileSize, 12)).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ch, pre, 0);
        for (int i = 0; i < MAGIC.length; i++) {
            if (pre.get(i) != MAGIC[i]) {
                throw new NpyFormatException(file, "not a .npy file: bad magic bytes " + hex(pre, MAGIC.length)
                        + " (expected 93 4e 55 4d 50 59, \"\\x93NUMPY\")");
            }
        }
        if (fileSize < 8) {
            throw new NpyFormatException(file, "truncated preamble: file ends after " + fileSize + " bytes");
        }
        int major = pre.get(6) & 0xff;
        int minor = pre.get(7) & 0xff;
        if ((major < 1 || major > 3) || minor != 0) {
            throw new NpyFormatException(file, "unsupported .npy format version " + major + "." + minor
                    + " (supported: 1.0, 2.0, 3.0)");
        }
        int lengthBytes = major == 1 ? 2 : 4;
        int prefix = 8 + lengthBytes;
        if (fileSize < prefix) {
            throw new NpyFormatException(file, "truncated preamble: file ends after " + fileSize + " bytes");
        }
        long headerLength = major == 1 ? pre.getShort(8) & 0xffffL : pre.getInt(8) & 0xffffffffL;
        if (headerLength > MAX_HEADER_BYTES) {
            throw new NpyFormatException(file, "header length " + headerLength + " exceeds the limit of "
                    + MAX_HEADER_BYTES + " bytes");
        }
        if (fileSize - prefix < headerLength) {
            throw new NpyFormatException(file, "truncated header: header length field says " + headerLength
                    + " bytes, file has " + (fileSize - prefix) + " after the preamble");
        }
        ByteBuffer raw = ByteBuffer.allocate((int) headerLength);
        readFully(file, ch, raw, prefix);
        raw.flip();
        String text = decode(file, raw, major);

        Map<String, Object> dict = NpyHeaderParser.parseDict(file, text);
        for (String key : dict.keySet()) {
            if (!key.equals("descr") && !key.equals("fortran_order") && !key.equals("shape")) {
                throw new NpyFormatException(file, "header has unexpected key " + NpyHeaderParser.repr(key)
                        + " (expected 'descr', 'fortran_order', 'shape')");
            }
        }
        Object descr = require(file, dict, "descr", text);
        Object fortran = require(file, dict, "fortran_order", text);
        Object shapeValue = require(file, dict, "shape", text);

        long[] shape = shape(file, shapeValue);
        if (!(fortran instanceof Boolean fortranOrder)) {
            throw new NpyFormatException(file, "'fortran_order' must be True or False, got "
                    + NpyHeaderParser.repr(fortran));
        }
        DType dtype = dtype(file, descr);
        ByteOrder order = byteOrder(descr);

        long size = elementCount(file, shape);
        long dataBytes;
        try {
            dataBytes = Math.multiplyExact(size, dtype.bytes());
        } catch (ArithmeticException e) {
            throw new NpyFormatException(file, "shape " + shapeString(shape) + " overflows: more than 2^63-1 bytes of "
                    + dtype + " data");
        }
        long dataOffset = prefix + headerLength;
        long available = fileSize - dataOffset;
        if (available < dataBytes) {
            throw new NpyFormatException(file, "truncated: header claims " + dataBytes + " bytes of data (shape "
                    + shapeString(shape) + ", " + dtype + "), file has " + available);
        }
        if (available > dataBytes) {
            throw new NpyFormatException(file, "trailing data: file has " + available + " bytes of data, header claims "
                    + dataBytes + " (shape " + shapeString(shape) + ", " + dtype + ")");
        }
        return new NpyHeader(shape, dtype, order, fortranOrder, dataOffset, size);
    }

    /**
     * The preamble and header NumPy would write for a C-order little-endian array: version 1.0
     * (2.0 only if the header does not fit in 65535 bytes), padded with spaces and ended with
     * {@code '\n'} so that the data starts at a multiple of 64 bytes.
     *
     * @throws IllegalArgumentException if a dimension is negative
     */
    public static byte[] encode(long[] shape, DType dtype) {
        for (long d : shape) {
            if (d < 0) {
                throw new IllegalArgumentException("negative dimension in shape " + shapeString(shape));
            }
        }
        String dict = "{'descr': '" + dtype.littleEndianDescr() + "', 'fortran_order': False, 'shape': "
                + shapeString(shape) + ", }";
        int major = 1;
        int prefix = 10;
        int total = roundUp(prefix + dict.length() + 1);
        if (total - prefix > 0xffff) {
            major = 2;
            prefix = 12;
            total = roundUp(prefix + dict.length() + 1);
        }
        int headerLength = total - prefix;
        ByteBuffer out = ByteBuffer.allocate(total).order(ByteOrder.LITTLE_ENDIAN);
        out.put(MAGIC).put((byte) major).put((byte) 0);
        if (major == 1) {
            out.putShort((short) headerLength);
        } else {
            out.putInt(headerLength);
        }
        out.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (out.position() < total - 1) {
            out.put((byte) ' ');
        }
        out.put((byte) '\n');
        return out.array();
    }

    /** Python's rendering of a shape tuple: {@code ()}, {@code (5,)}, {@code (2, 3)}. */
    static String shapeString(long[] shape) {
        if (shape.length == 1) {
            return "(" + shape[0] + ",)";
        }
        StringBuilder sb = new StringBuilder("(");
        for (int i = 0; i < shape.length; i++) {
            sb.append(i == 0 ? "" : ", ").append(shape[i]);
        }
        return sb.append(')').toString();
    }

    static NpyFormatException cannotRead(Path file, IOException e) {
        String why = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
        return new NpyFormatException(file, "cannot read: " + why, e);
    }

    private static int roundUp(int n) {
        return (n + ALIGN - 1) / ALIGN * ALIGN;
    }

    private static long elementCount(Path file, long[] shape) throws NpyFormatException {
        long size = 1;
        for (long d : shape) {
            if (d == 0) {
                return 0; // (0, huge, huge) is empty, not an overflow
            }
        }
        try {
            for (long d : shape) {
                size = Math.multiplyExact(size, d);
            }
        } catch (ArithmeticException e) {
            throw new NpyFormatException(file, "shape " + shapeString(shape) + " overflows: more than 2^63-1 elements");
        }
        return size;
    }

    private static Object require(Path file, Map<String, Object> dict, String key, String text)
            throws NpyFormatException {
        Object v = dict.get(key);
        if (v == null) {
            throw new NpyFormatException(file, "header has no '" + key + "' key: "
                    + NpyHeaderParser.escape(text.strip()));
        }
        return v;
    }

    private static long[] shape(Path file, Object value) throws NpyFormatException {
        if (!(value instanceof NpyHeaderParser.Tuple t)) {
            throw new NpyFormatException(file, "'shape' must be a tuple of integers, got " + NpyHeaderParser.repr(value));
        }
        long[] shape = new long[t.items().size()];
        for (int i = 0; i < shape.length; i++) {
            if (!(t.items().get(i) instanceof Long d)) {
                throw new NpyFormatException(file, "'shape' must be a tuple of integers, got " + NpyHeaderParser.repr(t));
            }
            if (d < 0) {
                throw new NpyFormatException(file, "negative dimension " + d + " in shape " + NpyHeaderParser.repr(t));
            }
            shape[i] = d;
        }
        return shape;
    }

    private static DType dtype(Path file, Object descr) throws NpyFormatException {
        if (!(descr instanceof String s)) {
            throw new NpyFormatException(file, "unsupported dtype " + NpyHeaderParser.repr(descr)
                    + " (structured dtypes are not supported; supported: " + DType.SUPPORTED + ")");
        }
        String code = hasByteOrderChar(s) ? s.substring(1) : s;
        if (code.equals("V2")) {
            return DType.BFLOAT16; // what numpy.save writes for an ml_dtypes.bfloat16 array
        }
        if (code.length() >= 2 && code.length() <= 3 && code.substring(1).chars().allMatch(Character::isDigit)) {
            var t = DType.of(code.charAt(0), Integer.parseInt(code.substring(1)));
            if (t.isPresent()) {
                return t.get();
            }
        }
        throw new NpyFormatException(file, "unsupported dtype " + NpyHeaderParser.repr(s)
                + " (supported: " + DType.SUPPORTED + ")");
    }

    private static boolean hasByteOrderChar(String descr) {
        return !descr.isEmpty() && "<>|=".indexOf(descr.charAt(0)) >= 0;
    }

    // Called after dtype() accepted the descr. '=' (native) is taken as little endian, the order
    // of every platform NumPy files come from in practice; '|' (not applicable) likewise.
    private static ByteOrder byteOrder(Object descr) {
        return ((String) descr).startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
    }

    private static String decode(Path file, ByteBuffer raw, int major) throws NpyFormatException {
        if (major < 3) {
            return StandardCharsets.ISO_8859_1.decode(raw).toString();
        }
        try {
            CharBuffer chars = StandardCharsets.UTF_8.newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(raw);
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw new NpyFormatException(file, "version 3.0 header is not valid UTF-8", e);
        }
    }

    private static void readFully(Path file, FileChannel ch, ByteBuffer buf, long position)
            throws NpyFormatException {
        long p = position;
        try {
            while (buf.hasRemaining()) {
                int n = ch.read(buf, p);
                if (n < 0) {
                    throw new NpyFormatException(file, "truncated: file ended at byte " + p + " while reading the header");
                }
                p += n;
            }
        } catch (NpyFormatException e) {
            throw e;
        } catch (IOException e) {
            throw cannotRead(file, e);
        }
    }

    private static String hex(ByteBuffer b, int n) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(i == 0 ? "" : " ").append(String.format("%02x", b.get(i) & 0xff));
        }
        return sb.toString();
    }
}
