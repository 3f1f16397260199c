package org.ringattention.tensor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** bool arrays (keep masks): written as NumPy writes them ('|b1'), read back, refused where numbers are expected. */
class BoolNpyTest {

    @TempDir
    Path dir;

    @Test
    void boolArraysRoundTrip() throws IOException {
        boolean[] keep = {true, false, false, true, true, false};
        Path f = dir.resolve("m.npy");
        Npy.writeBool(f, new long[] {2, 3}, keep);
        String header = new String(Files.readAllBytes(f), 0, 64, StandardCharsets.ISO_8859_1);
        assertThat(header).contains("'descr': '|b1'");
        NpyArray a = Npy.read(f);
        assertThat(a.dtype()).isEqualTo(DType.BOOL);
        assertThat(a.shape()).containsExactly(2, 3);
        assertThat(a.toBooleanArray()).containsExactly(keep);
        assertThat(a.toLongArray()).containsExactly(1, 0, 0, 1, 1, 0);
        assertThatThrownBy(a::toFloatArray).hasMessageContaining("floating");
        Path g = dir.resolve("f.npy");
        Npy.write(g, new long[] {2}, new float[] {1, 0});
        assertThatThrownBy(() -> Npy.read(g).toBooleanArray()).hasMessageContaining("bool");
    }
}
