package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safetensors header checks at their boundaries: the length prefix (0, the limit, one byte
 * beyond the file), an 8-byte file, a tensor whose offsets hold the wrong byte count, and how
 * messages show a bad value (arrays cut after 8 items, nested values named).
 */
class SafetensorsHeaderTest {

    private static final Path FILE = Path.of("x.safetensors");

    @TempDir
    Path dir;

    private static ByteBuffer prefix(long n) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(0, n);
    }

    private static String reason(Executable e) {
        return assertThrows(SafetensorsFormatException.class, e).getMessage();
    }

    @Test
    void theLengthPrefixAtItsBounds() throws SafetensorsFormatException {
        assertEquals(0, SafetensorsHeader.headerLength(FILE, prefix(0), 8));
        long max = SafetensorsHeader.MAX_HEADER_BYTES;
        assertEquals(max, SafetensorsHeader.headerLength(FILE, prefix(max), max + 8));
        assertTrue(reason(() -> SafetensorsHeader.headerLength(FILE, prefix(max + 1), max + 9))
                .contains("header length " + (max + 1) + " exceeds the limit"));
        assertEquals(12, SafetensorsHeader.headerLength(FILE, prefix(12), 20));
        assertTrue(reason(() -> SafetensorsHeader.headerLength(FILE, prefix(13), 20))
                .endsWith("truncated header: header length field says 13 bytes, file has 12 after it"));
    }

    @Test
    void anEightByteFileIsReadForItsLength() throws IOException {
        Path f = Files.write(dir.resolve("eight.safetensors"), prefix(5).array());
        assertTrue(reason(() -> SafetensorsFile.open(f))
                .endsWith("truncated header: header length field says 5 bytes, file has 0 after it"));
    }

    private static String parseFails(String json, long bufferBytes) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return reason(() -> SafetensorsHeader.parse(FILE, ByteBuffer.wrap(b), 8 + b.length + bufferBytes));
    }

    @Test
    void offsetsHoldingTheWrongByteCountAreNamed() {
        String m = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,8]}}", 8);
        assertTrue(m.contains("tensor 't': data_offsets [4, 8] hold 4 bytes, but F32"), m);
        assertTrue(m.endsWith(" needs 8"), m);
    }

    @Test
    void badValuesAreShownShortAndNamed() {
        String nine = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,8,-1],\"data_offsets\":[0,4]}}", 4);
        assertTrue(nine.contains("got [1, 2, 3, 4, 5, 6, 7, 8, ...]"), nine);
        String eight = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[1,2,3,4,5,6,7,-1],\"data_offsets\":[0,4]}}", 4);
        assertTrue(eight.contains("got [1, 2, 3, 4, 5, 6, 7, -1]"), eight);
        String nested = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[[1,\"a\"],{},2],\"data_offsets\":[0,4]}}", 4);
        assertTrue(nested.contains("got [[1, a], an object, 2]"), nested);
    }
}
