package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link NpyHeader} at the sizes where its rules change: a header of exactly the 1 MiB limit,
 * the largest header that still fits version 1.0's 16-bit length field, and the padding to a
 * multiple of 64 for every length of the dict modulo 64.
 */
class NpyHeaderTest {

    /** What {@link NpyHeader#encode} writes before the shape, and after it. */
    private static final String HEAD = "{'descr': '<f4', 'fortran_order': False, 'shape': ";
    private static final String TAIL = ", }";

    @TempDir
    Path dir;

    private NpyHeader parse(String name, byte[] bytes) throws IOException {
        Path f = Files.write(dir.resolve(name), bytes);
        try (FileChannel ch = FileChannel.open(f)) {
            return NpyHeader.parse(f, ch);
        }
    }

    /** A version-2.0 file whose header is {@code headerLength} bytes: the dict, spaces, '\n'; then {@code data}. */
    static byte[] version2(String dict, int headerLength, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(12 + headerLength + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 2, 0}).putInt(headerLength);
        b.put(dict.getBytes(StandardCharsets.ISO_8859_1));
        while (b.position() < 12 + headerLength - 1) {
            b.put((byte) ' ');
        }
        return b.put((byte) '\n').put(data).array();
    }

    @Test
    void aHeaderOfExactlyTheLimitIsAccepted() throws IOException {
        String dict = HEAD + "(1,)" + TAIL;
        byte[] one = {0, 0, (byte) 0x80, 0x3f};
        int max = NpyHeader.MAX_HEADER_BYTES;
        NpyHeader h = parse("max.npy", version2(dict, max, one));
        assertEquals(12L + max, h.dataOffset());
        assertEquals(1, h.size());

        NpyFormatException e = assertThrows(NpyFormatException.class,
                () -> parse("over.npy", version2(dict, max + 1, one)));
        assertTrue(e.reason().contains("header length " + (max + 1) + " exceeds the limit of " + max), e.reason());
    }

    @Test
    void aParsedHeaderDescribesItself() throws IOException {
        NpyHeader h = parse("small.npy", concat(NpyHeader.encode(new long[] {2, 3}, DType.FLOAT32), new byte[24]));
        assertEquals(2, h.rank());
        assertEquals("NpyHeader[shape=(2, 3), dtype=float32, byteOrder=LITTLE_ENDIAN, fortranOrder=false,"
                + " dataOffset=128]", h.toString());
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void shortReadsGiveTheSameHeader() throws IOException {
        byte[] bytes = concat(NpyHeader.encode(new long[] {3, 2}, DType.FLOAT32), new byte[24]);
        Path f = Files.write(dir.resolve("short.npy"), bytes);
        try (FileChannel ch = new ShortReadChannel(FileChannel.open(f))) {
            NpyHeader h = NpyHeader.parse(f, ch);
            assertArrayEquals(new long[] {3, 2}, h.shape());
            assertEquals(128, h.dataOffset());
        }
    }

    @Test
    void anEightByteFileIsCheckedForItsVersionFirst() throws IOException {
        byte[] v9 = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 9, 0};
        NpyFormatException e = assertThrows(NpyFormatException.class, () -> parse("v9.npy", v9));
        assertEquals("unsupported .npy format version 9.0 (supported: 1.0, 2.0, 3.0)", e.reason());
        byte[] v1 = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0};
        e = assertThrows(NpyFormatException.class, () -> parse("v1.npy", v1));
        assertEquals("truncated preamble: file ends after 8 bytes", e.reason());
    }

    /**
     * A shape of size 0 whose dict, as {@code encode} writes it, is exactly {@code length}
     * characters: (0, 1, ..., 1, L) with L of 1 to 3 digits.
     */
    private static long[] shapeWithDictLength(int length) {
        int rest = length - HEAD.length() - TAIL.length() - "(0".length() - ")".length();
        int digits = (rest - 3) % 3 + 1; // ", L" is 2 + digits characters, each ", 1" is 3
        int ones = (rest - 2 - digits) / 3;
        long[] shape = new long[ones + 2];
        Arrays.fill(shape, 1);
        shape[0] = 0;
        shape[shape.length - 1] = (long) Math.pow(10, digits - 1);
        return shape;
    }

    @Test
    void versionOneHoldsHeadersUpTo65526BytesAndThePaddingIsMinimal() throws IOException {
        // around the version switch: dict lengths 65400..65700 cover every residue mod 64 twice
        for (int length = 65_400; length <= 65_700; length++) {
            long[] shape = shapeWithDictLength(length);
            byte[] b = NpyHeader.encode(shape, DType.FLOAT32);
            ByteBuffer bb = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            String dict = HEAD + NpyHeader.shapeString(shape) + TAIL;
            assertEquals(length, dict.length(), "the shape chosen for length " + length);

            // version 1.0 whenever the header fits its 16-bit length field: the smallest multiple
            // of 64 holding 10 + length + 1 bytes is at most 65536 exactly when length <= 65525
            int major = length <= 65_525 ? 1 : 2;
            int prefix = major == 1 ? 10 : 12;
            assertEquals(major, b[6], "version for a dict of " + length);
            long headerLength = major == 1 ? bb.getShort(8) & 0xffff : bb.getInt(8);
            assertEquals(b.length - prefix, headerLength, "length field for a dict of " + length);
            assertTrue(b.length % 64 == 0 && b.length >= prefix + length + 1 && b.length < prefix + length + 1 + 64,
                    "the data starts at the first multiple of 64 after the header: " + b.length + " for " + length);
            assertEquals(dict, new String(b, prefix, length, StandardCharsets.ISO_8859_1));
            assertEquals('\n', b[b.length - 1]);
        }
        assertEquals(65_536, NpyHeader.encode(shapeWithDictLength(65_525), DType.FLOAT32).length);
        assertEquals(65_600, NpyHeader.encode(shapeWithDictLength(65_526), DType.FLOAT32).length);
        NpyHeader largestV1 = parse("v1.npy", NpyHeader.encode(shapeWithDictLength(65_525), DType.FLOAT32));
        assertEquals(65_536, largestV1.dataOffset());
        NpyHeader smallestV2 = parse("v2.npy", NpyHeader.encode(shapeWithDictLength(65_526), DType.FLOAT32));
        assertEquals(65_600, smallestV2.dataOffset());
        assertEquals(0, smallestV2.size());
    }

    @Test
    void smallHeadersArePaddedToTheFirstMultipleOf64() {
        // ranks 0..70 with dims of 1 to 3 digits: dict lengths of every residue mod 64
        boolean[] residues = new boolean[64];
        for (int rank = 0; rank <= 70; rank++) {
            for (long dim : new long[] {1, 10, 100}) {
                long[] shape = new long[rank];
                Arrays.fill(shape, dim);
                if (rank > 0) {
                    shape[0] = 0;
                }
                int length = (HEAD + NpyHeader.shapeString(shape) + TAIL).length();
                residues[length % 64] = true;
                byte[] b = NpyHeader.encode(shape, DType.FLOAT32);
                assertEquals(1, b[6]);
                assertTrue(b.length % 64 == 0 && b.length >= 11 + length && b.length < 11 + length + 64,
                        b.length + " bytes for a dict of " + length);
            }
        }
        for (int r = 0; r < 64; r++) {
            assertTrue(residues[r], "no dict of length " + r + " mod 64");
        }
    }
}
