package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Memory-mapped .npy files: what Npy reads, written in place, and tensors beyond 2^31 elements. */
class MappedNpyTest {

    @TempDir
    Path dir;

    @Test
    void aMappedFileHoldsWhatNpyReadsAndWrites() throws IOException {
        float[] x = new float[2 * 3 * 5 * 7];
        for (int i = 0; i < x.length; i++) {
            x[i] = i * 0.25f - 3;
        }
        Path in = dir.resolve("x.npy");
        Npy.write(in, new long[] {2, 3, 5, 7}, x);
        assertThat(MappedNpy.mappable(in)).isTrue();
        Path out = dir.resolve("y.npy");
        try (Arena arena = Arena.ofConfined()) {
            MappedNpy m = MappedNpy.openReadOnly(in, arena);
            assertThat(m.shape()).containsExactly(2, 3, 5, 7);
            assertThat(m.tensor().isHeap()).isFalse();
            assertThat(m.tensor().toArray()).isEqualTo(x);
            MappedNpy y = MappedNpy.create(out, new long[] {2, 3, 5, 7}, arena);
            for (int b = 0; b < 2; b++) {
                for (int h = 0; h < 3; h++) {
                    y.tensor().rows(b, h, 0, 5).copyFrom(x, (int) m.tensor().rowOffset(b, h, 0));
                }
            }
            y.force();
        }
        assertThat(Files.readAllBytes(out)).isEqualTo(Files.readAllBytes(in)); // what numpy.save writes
        try (Arena arena = Arena.ofConfined()) {
            MappedNpy again = MappedNpy.openReadWrite(out, new long[] {2, 3, 5, 7}, arena);
            assertThat(again.tensor().get(1, 2, 4, 6)).isEqualTo(x[x.length - 1]);
            assertThatThrownBy(() -> MappedNpy.openReadWrite(out, new long[] {2, 3, 5, 8}, arena))
                    .isInstanceOf(NpyFormatException.class).hasMessageContaining("shape (2, 3, 5, 8)");
        }
    }

    @Test
    void otherDtypesAreNotMappedAndSayWhy() throws IOException {
        Path f = dir.resolve("d.npy");
        Npy.write(f, new long[] {4, 2}, new double[8]);
        assertThat(MappedNpy.mappable(f)).isFalse();
        assertThat(MappedNpy.mappable(dir.resolve("missing.npy"))).isFalse();
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> MappedNpy.openReadOnly(f, arena)).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("d.npy").hasMessageContaining("cannot be memory-mapped");
            assertThatThrownBy(() -> MappedNpy.create(f, new long[] {1}, arena))
                    .isInstanceOf(java.nio.file.FileAlreadyExistsException.class);
        }
    }

    /** 2^31 + 128 floats (an 8 GiB sparse file: only the pages written take disk space). */
    @Test
    void aSegmentTensorMayExceedTwoToThe31Elements() throws IOException {
        int rows = (1 << 24) + 1;
        long[] shape = {1, 1, rows, 128};
        assertThatThrownBy(() -> Tensor.zeros(1, 1, rows, 128)).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("too large for a heap tensor");
        Path f = dir.resolve("big.npy");
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = MappedNpy.create(f, shape, arena).tensor();
            assertThat(t.size()).isGreaterThan(Integer.MAX_VALUE);
            assertThat(t.rowOffset(0, 0, rows - 1)).isEqualTo((long) (rows - 1) * 128);
            float[] row = new float[128];
            row[127] = 7.5f;
            t.rows(0, 0, rows - 1, 1).copyFrom(row, 0);
            t.set(0, 0, 1 << 24, 0, -2f); // element 2^31
            assertThatThrownBy(t::toArray).isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("too large for one array");
        }
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = MappedNpy.openReadOnly(f, arena).tensor();
            assertThat(t.get(0, 0, rows - 1, 127)).isEqualTo(7.5f);
            assertThat(t.get(0, 0, 1 << 24, 0)).isEqualTo(-2f);
            assertThat(t.get(0, 0, 5, 5)).isZero();
            assertThat(t.firstNonFinite((1L << 31) - 64, (1L << 31) + 128)).isEqualTo(-1);
        }
        assertThat(Files.size(f)).isEqualTo(MappedNpy.fileBytes(shape));
    }
}
