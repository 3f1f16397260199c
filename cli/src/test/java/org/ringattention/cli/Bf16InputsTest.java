package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.BFloat16;
import org.ringattention.tensor.Npy;

/** bfloat16 and float16 inputs of attend and compare: ml_dtypes' '<V2', uint16 bit patterns with --bf16-bits. */
class Bf16InputsTest {

    @TempDir
    Path dir;

    private final long[] qShape = {1, 2, 5, 4};
    private final long[] kShape = {1, 2, 6, 4};
    private float[] q;
    private float[] k;
    private float[] v;

    @BeforeEach
    void writeInputs() throws IOException {
        q = rounded(CliRun.random(40, 1));
        k = rounded(CliRun.random(48, 2));
        v = rounded(CliRun.random(48, 3));
        // the same values three ways: float32, bfloat16 as '<V2', bfloat16 bits as '<u2'
        Npy.write(dir.resolve("q.npy"), qShape, q);
        Npy.write(dir.resolve("k.npy"), kShape, k);
        Npy.write(dir.resolve("v.npy"), kShape, v);
        Npy.writeBFloat16(dir.resolve("q-bf16.npy"), qShape, q, false);
        Npy.writeBFloat16(dir.resolve("k-bf16.npy"), kShape, k, false);
        Npy.writeBFloat16(dir.resolve("v-bits.npy"), kShape, v, true);
        Npy.writeFloat16(dir.resolve("v-f16.npy"), kShape, v); // bfloat16 values with small exponents fit float16
    }

    @Test
    void bf16InputsGiveTheFloat32Result() throws IOException {
        CliRun f32 = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out",
                p("o32.npy"), "--quiet");
        assertThat(f32.code()).as(f32.err()).isZero();
        CliRun bf = CliRun.of("attend", "--q", p("q-bf16.npy"), "--k", p("k-bf16.npy"), "--v", p("v-bits.npy"),
                "--bf16-bits", "--out", p("obf.npy"), "--quiet");
        assertThat(bf.code()).as(bf.err()).isZero();
        CliRun half = CliRun.of("attend", "--q", p("q-bf16.npy"), "--k", p("k.npy"), "--v", p("v-f16.npy"),
                "--out", p("of16.npy"), "--quiet");
        assertThat(half.code()).as(half.err()).isZero();
        float[] expected = Npy.read(dir.resolve("o32.npy")).toFloatArray();
        assertThat(Npy.read(dir.resolve("obf.npy")).toFloatArray()).containsExactly(expected);
        assertThat(Npy.read(dir.resolve("of16.npy")).toFloatArray()).containsExactly(expected);
    }

    @Test
    void uint16WithoutTheFlagIsRefusedWithAHint() {
        CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v-bits.npy"), "--out", p("o.npy"))
                .assertOneLineError(1, "v-bits.npy: dtype uint16 is not floating point",
                        "pass --bf16-bits if it holds bfloat16 bit patterns");
        CliRun.of("compare", "--ref", p("v.npy"), "--got", p("v-bits.npy"))
                .assertOneLineError(1, "v-bits.npy: dtype uint16 is not floating point (--got needs float16, bfloat16,"
                        + " float32 or float64); pass --bf16-bits");
        assertThat(Files.exists(dir.resolve("o.npy"))).isFalse();
    }

    @Test
    void compareReadsBf16() {
        CliRun same = CliRun.of("compare", "--ref", p("v.npy"), "--got", p("v-bits.npy"), "--bf16-bits", "--json");
        assertThat(same.code()).as(same.err()).isZero();
        assertThat(same.out()).contains("\"max_abs_error\":0");
        CliRun v2 = CliRun.of("compare", "--ref", p("k.npy"), "--got", p("k-bf16.npy"));
        assertThat(v2.code()).as(v2.err()).isZero();
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    private static float[] rounded(float[] x) {
        for (int i = 0; i < x.length; i++) {
            x[i] = BFloat16.round(x[i]);
        }
        return x;
    }
}
