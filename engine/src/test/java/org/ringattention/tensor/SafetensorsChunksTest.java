package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A tensor larger than the writer's 1 MiB copy buffer, between two small ones: written in
 * several chunks and read back to the same bits, the next tensor starting right after it.
 */
class SafetensorsChunksTest {

    @TempDir
    Path dir;

    @Test
    void tensorsLargerThanOneChunkRoundTrip() throws IOException {
        float[] big = new float[300_001]; // 1.2 MB: one full chunk and a partial one
        for (int i = 0; i < big.length; i++) {
            big[i] = i * 0.25f - 7;
        }
        float[] small = {1, 2, 3};
        SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
        m.put("a", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {3}, small));
        m.put("big", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {big.length}, big));
        m.put("z", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {3}, small));
        Path f = dir.resolve("big.safetensors");
        Safetensors.write(f, m);
        SafetensorsFile s = SafetensorsFile.open(f);
        assertArrayEquals(big, s.floats("big"));
        assertArrayEquals(small, s.floats("a"));
        assertArrayEquals(small, s.floats("z"));
        long header = Files.size(f) - 4L * (big.length + 6);
        assertEquals(0, (header - 8) % 8, "the header is padded to 8 bytes");
    }
}
