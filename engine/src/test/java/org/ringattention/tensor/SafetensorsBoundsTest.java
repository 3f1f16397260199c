package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Safetensors at the sizes where its output changes: the header padding for every JSON length
 * modulo 8, the listing of names in a "no tensor named" message at 12 and 13 tensors, and a bad
 * value of exactly the 80 characters a message shows whole.
 */
class SafetensorsBoundsTest {

    private static final Path FILE = Path.of("x.safetensors");

    @TempDir
    Path dir;

    private static SequencedMap<String, Safetensors.TensorData> oneTensor(String name) {
        SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
        m.put(name, Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {2}, new float[] {1, -2}));
        return m;
    }

    @Test
    void theHeaderIsPaddedToTheFirstMultipleOf8() throws IOException {
        for (int k = 1; k <= 17; k++) { // JSON lengths of every residue mod 8, twice
            String name = "t".repeat(k);
            String json = "{\"" + name + "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
            byte[] h = Safetensors.header(oneTensor(name), Map.of());
            int padded = h.length - 8;
            assertTrue(padded % 8 == 0 && padded >= json.length() && padded < json.length() + 8,
                    padded + " header bytes for " + json.length() + " of JSON");
            assertEquals(padded, ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN).getLong(0));
            assertEquals(json + " ".repeat(padded - json.length()), new String(h, 8, padded, StandardCharsets.UTF_8));

            Path f = dir.resolve(k + ".safetensors");
            Safetensors.write(f, oneTensor(name));
            assertEquals(8L + padded + 8, Files.size(f));
            assertArrayEquals(new float[] {1, -2}, SafetensorsFile.open(f).floats(name));
        }
    }

    private Path withTensors(int count) throws IOException {
        SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
        for (int i = 0; i < count; i++) {
            m.put("t" + i, Safetensors.TensorData.ofInts(new long[] {1}, new int[] {i}));
        }
        Path f = dir.resolve(count + "-tensors.safetensors");
        Safetensors.write(f, m);
        return f;
    }

    private static String missing(Path f) throws IOException {
        SafetensorsFile s = SafetensorsFile.open(f);
        return assertThrows(SafetensorsFormatException.class, () -> s.dtype("nope")).reason();
    }

    @Test
    void aMissingNameListsUpTo12Names() throws IOException {
        String twelve = "'t0', 't1', 't2', 't3', 't4', 't5', 't6', 't7', 't8', 't9', 't10', 't11'";
        assertEquals("no tensor named 'nope' (it has " + twelve + ")", missing(withTensors(12)));
        assertEquals("no tensor named 'nope' (it has " + twelve + ", ... (13 tensors))", missing(withTensors(13)));
    }

    private static String parseFails(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return assertThrows(SafetensorsFormatException.class,
                () -> SafetensorsHeader.parse(FILE, ByteBuffer.wrap(b), 8 + b.length + 4)).reason();
    }

    @Test
    void aBadValueOf80CharactersIsShownWhole() {
        // a string shape is shown quoted: 78 letters are 80 characters, 79 are cut to 77 and "..."
        String s78 = "a".repeat(78);
        String whole = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":\"" + s78 + "\",\"data_offsets\":[0,4]}}");
        assertTrue(whole.endsWith("got \"" + s78 + "\""), whole);
        String cut = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":\"" + s78 + "a\",\"data_offsets\":[0,4]}}");
        assertTrue(cut.endsWith("got \"" + "a".repeat(76) + "..."), cut);
    }

    @Test
    void aNestedListIsShownAsBadValuesAre() {
        // inside a bad value, a list is cut after 8 items like the value itself; a string is shown bare
        String m = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[[1,2,3,4,5,6,7,8,9],\"x\"],\"data_offsets\":[0,4]}}");
        assertTrue(m.endsWith("got [[1, 2, 3, 4, 5, 6, 7, 8, ...], x]"), m);
    }
}
