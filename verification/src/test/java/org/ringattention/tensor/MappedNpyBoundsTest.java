package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link MappedNpy} at the edges of what it maps: byte order, dimensions of 0, 1 and 2^31 − 1,
 * ranks outside 1 to 4, outputs with no elements, and the accessors the CLI's streamed paths use.
 */
class MappedNpyBoundsTest {

    @TempDir
    Path dir;

    /** A float32 file of {@code shape} whose data is a hole: only the header takes disk space. */
    private Path sparse(String name, long... shape) throws IOException {
        Path f = Files.write(dir.resolve(name), NpyHeader.encode(shape, DType.FLOAT32));
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            raf.setLength(raf.length() + 4 * n);
        }
        return f;
    }

    @Test
    void aBigEndianFileIsNotMappedEvenWithOneElement() throws IOException {
        byte[] oneAndAHalf = ByteBuffer.allocate(4).order(ByteOrder.BIG_ENDIAN).putFloat(1.5f).array();
        Path f = Files.write(dir.resolve("be1.npy"),
                NpyTest.npy(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", oneAndAHalf));
        assertThat(Npy.read(f).toFloatArray()).containsExactly(1.5f);
        // mapped as little-endian, its bytes would read as 6.9e-41
        assertThat(MappedNpy.mappable(f)).isFalse();
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> MappedNpy.openReadOnly(f, arena)).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("cannot be memory-mapped")
                    .hasMessageContaining("got NpyHeader[shape=(1,), dtype=float32, byteOrder=BIG_ENDIAN");
        }
    }

    @Test
    void dimensionsFromOneTo2To31Minus1AreMapped() throws IOException {
        Path ones = dir.resolve("ones.npy");
        Npy.write(ones, new long[] {1, 1, 3}, new float[] {1, 2, 3});
        assertThat(MappedNpy.mappable(ones)).isTrue();
        try (Arena arena = Arena.ofConfined()) {
            assertThat(MappedNpy.openReadOnly(ones, arena).tensor().toArray()).containsExactly(1, 2, 3);
        }
        assertThat(MappedNpy.mappable(sparse("max.npy", Integer.MAX_VALUE))).isTrue();
        assertThat(MappedNpy.mappable(sparse("over.npy", Integer.MAX_VALUE + 1L))).isFalse();
        Path empty = sparse("empty.npy", 0, 4);
        assertThat(MappedNpy.mappable(empty)).isFalse();
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> MappedNpy.openReadOnly(empty, arena)).isInstanceOf(NpyFormatException.class)
                    .hasMessageContaining("cannot be memory-mapped");
        }
        assertThat(MappedNpy.mappable(sparse("rank0.npy"))).isFalse();
        assertThat(MappedNpy.mappable(sparse("rank5.npy", 1, 1, 1, 2, 2))).isFalse();
    }

    @Test
    void anOutputWithNoElementsIsItsHeaderAlone() throws IOException {
        Path f = dir.resolve("none.npy");
        try (Arena arena = Arena.ofConfined()) {
            MappedNpy m = MappedNpy.create(f, new long[] {0, 4}, arena);
            assertThat(m.tensor().size()).isZero();
            m.force();
        }
        Path expected = dir.resolve("expected.npy");
        Npy.write(expected, new long[] {0, 4}, new float[0]);
        assertThat(Files.readAllBytes(f)).isEqualTo(Files.readAllBytes(expected));
        assertThat(MappedNpy.fileBytes(new long[] {0, 4})).isEqualTo(128);
        assertThat(MappedNpy.hasSizeOf(f, new long[] {0, 4})).isTrue();
    }

    @Test
    void accessorsAndSizes() throws IOException {
        Path f = dir.resolve("out.npy");
        try (Arena arena = Arena.ofConfined()) {
            MappedNpy m = MappedNpy.create(f, new long[] {2, 3}, arena);
            assertThat(m.file()).isEqualTo(f);
            m.tensor().set(0, 0, 1, 2, 7f);
            assertThat(m.view(1, 1, 6, 1).get(0, 0, 5, 0)).isEqualTo(7f);
            m.force();
        }
        assertThat(Files.size(f)).isEqualTo(128 + 24);
        assertThat(MappedNpy.fileBytes(new long[] {2, 3})).isEqualTo(128 + 24);
        assertThat(MappedNpy.hasSizeOf(f, new long[] {2, 3})).isTrue();
        assertThat(MappedNpy.hasSizeOf(f, new long[] {3, 3})).isFalse();
        assertThat(MappedNpy.hasSizeOf(dir, new long[] {2, 3})).isFalse();
        assertThat(MappedNpy.hasSizeOf(dir.resolve("missing.npy"), new long[] {2, 3})).isFalse();
        try (Arena arena = Arena.ofConfined()) {
            MappedNpy ro = MappedNpy.openReadOnly(f, arena);
            ro.force(); // a read-only mapping has nothing to write back
            assertThat(ro.tensor().get(0, 0, 1, 2)).isEqualTo(7f);
        }
    }

    @Test
    void ranksOutsideOneToFourAreRefused() {
        try (Arena arena = Arena.ofConfined()) {
            assertThatThrownBy(() -> MappedNpy.create(dir.resolve("r5.npy"), new long[] {1, 1, 1, 1, 2}, arena))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("rank 5 is not 1 to 4");
            assertThatThrownBy(() -> MappedNpy.create(dir.resolve("r0.npy"), new long[0], arena))
                    .isInstanceOf(IllegalArgumentException.class).hasMessage("rank 0 is not 1 to 4");
            assertThatThrownBy(() -> MappedNpy.create(dir.resolve("neg.npy"), new long[] {2, -1}, arena))
                    .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("negative dimension");
        }
    }
}
