package org.ringattention.tensor;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link Npy#read} of data above 256 MiB, where the long[] that holds it would overflow an int
 * if its length were miscounted, and how a read array describes itself.
 */
class NpyReadTest {

    @TempDir
    Path dir;

    @Test
    void moreThan256MiBOfDataIsRead() throws IOException {
        long elements = (1L << 25) + 1; // int64: 2^28 + 8 bytes
        Path f = Files.write(dir.resolve("big.npy"), NpyHeader.encode(new long[] {elements}, DType.INT64));
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(128 + 8 * elements); // a hole: zeros that take no disk space
        }
        NpyArray a = Npy.read(f);
        assertEquals(elements, a.size());
        assertEquals("NpyArray[" + f + ", shape=(33554433,), dtype=int64]", a.toString());
    }

    @Test
    void aFortranOrderArraySaysSo() throws IOException {
        byte[] data = new byte[16];
        data[3] = 0x3f; // 1.0f in the first and
        data[2] = (byte) 0x80;
        data[15] = 0x40; // 2.0f in the last element
        Path f = Files.write(dir.resolve("f.npy"), NpyHeaderTest.version2(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2), }", 128 - 12, data));
        NpyArray a = Npy.read(f);
        assertEquals("NpyArray[" + f + ", shape=(2, 2), dtype=float32, fortran_order]", a.toString());
        assertArrayEquals(new float[] {1, 0, 0, 2}, a.toFloatArray());
    }
}
