package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The safetensors accessors the CLI reaches but the round-trip tests do not: unsigned 16-bit
 * integers, a tensor as an NpyArray, doubles stored as F32 and F64, the file's description, and
 * JSON literals in a bad value.
 */
class SafetensorsAccessTest {

    @TempDir
    Path dir;

    @Test
    void accessorsOfAWrittenFile() throws IOException {
        SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
        byte[] u16 = {(byte) 0xff, (byte) 0xff, 0x01, (byte) 0x80}; // 65535 and 32769: no sign extension
        m.put("u", new Safetensors.TensorData(DType.UINT16, new long[] {2}, MemorySegment.ofArray(u16)));
        m.put("f", Safetensors.TensorData.ofDoubles(DType.FLOAT32, new long[] {2}, new double[] {0.1, -3}));
        m.put("d", Safetensors.TensorData.ofDoubles(DType.FLOAT64, new long[] {1, 1}, new double[] {0.1}));
        Path f = dir.resolve("access.safetensors");
        Safetensors.write(f, m);
        SafetensorsFile s = SafetensorsFile.open(f);
        assertArrayEquals(new long[] {65535, 32769}, s.longs("u"));
        assertArrayEquals(new float[] {0.1f, -3f}, s.floats("f"));
        assertArrayEquals(new double[] {0.1}, s.array("d").toDoubleArray());
        NpyArray a = s.array("f");
        assertEquals(f, a.source());
        assertArrayEquals(new long[] {2}, a.shape());
        assertEquals("SafetensorsFile[" + f + ", 3 tensors]", s.toString());
    }

    private static String parseFails(String json) {
        byte[] b = json.getBytes(StandardCharsets.UTF_8);
        return assertThrows(SafetensorsFormatException.class,
                () -> SafetensorsHeader.parse(Path.of("x.safetensors"), ByteBuffer.wrap(b), 8 + b.length + 4)).reason();
    }

    @Test
    void literalsInABadValue() {
        String m = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[true,false,null],\"data_offsets\":[0,4]}}");
        assertTrue(m.endsWith("got [true, false, null]"), m);
        String bad = parseFails("{\"t\":{\"dtype\":\"F32\",\"shape\":[tru],\"data_offsets\":[0,4]}}");
        assertTrue(bad.contains("expected a JSON value"), bad);
    }
}
