package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.SequencedMap;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.Safetensors;
import org.ringattention.tensor.SafetensorsFile;

/** {@code FILE.safetensors:NAME} wherever attend and compare take a .npy path. */
class SafetensorsArgumentsTest {

    @TempDir
    Path dir;

    private final float[] q = CliRun.random(2 * 7 * 6, 1);
    private final float[] k = CliRun.random(1 * 9 * 6, 2);
    private final float[] v = CliRun.random(1 * 9 * 6, 3);
    private final float[] dOut = CliRun.random(2 * 7 * 6, 4);

    @BeforeEach
    void writeInputs() throws IOException {
        Npy.write(dir.resolve("q.npy"), new long[] {1, 2, 7, 6}, q);
        Npy.write(dir.resolve("k.npy"), new long[] {1, 1, 9, 6}, k);
        Npy.write(dir.resolve("v.npy"), new long[] {1, 1, 9, 6}, v);
        Npy.write(dir.resolve("do.npy"), new long[] {1, 2, 7, 6}, dOut);
        SequencedMap<String, Safetensors.TensorData> m = new LinkedHashMap<>();
        m.put("layer.0:q", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1, 2, 7, 6}, q));
        m.put("k", Safetensors.TensorData.ofDoubles(DType.FLOAT64, new long[] {1, 1, 9, 6}, widen(k)));
        m.put("v", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1, 1, 9, 6}, v));
        m.put("do", Safetensors.TensorData.ofFloats(DType.FLOAT32, new long[] {1, 2, 7, 6}, dOut));
        m.put("ids", Safetensors.TensorData.ofInts(new long[] {2}, new int[] {0, 1}));
        Safetensors.write(dir.resolve("in.safetensors"), m);
    }

    @Test
    void attendReadsAndWritesSafetensorsLikeNpy() throws IOException {
        CliRun npy = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--causal",
                "--out", p("o.npy"), "--lse", p("lse.npy"), "--do", p("do.npy"), "--dq", p("dq.npy"), "--dk",
                p("dk.npy"), "--dv", p("dv.npy"), "--quiet");
        assertThat(npy.code()).as(npy.err()).isZero();
        String in = p("in.safetensors");
        CliRun st = CliRun.of("attend", "--q", in + ":layer.0:q", "--k", in + ":k", "--v", in + ":v", "--causal",
                "--out", p("out.safetensors") + ":o", "--lse", p("out.safetensors") + ":lse", "--do", in + ":do",
                "--dq", p("grads.safetensors") + ":dq", "--dk", p("grads.safetensors") + ":dk",
                "--dv", p("dv.npy.safetensors") + ":dv", "--quiet");
        assertThat(st.code()).as(st.err()).isZero();

        SafetensorsFile out = SafetensorsFile.open(dir.resolve("out.safetensors"));
        assertThat(out.names()).containsExactly("o", "lse");
        assertThat(out.dtype("o")).isEqualTo(DType.FLOAT32);
        assertThat(out.shape("o")).containsExactly(1, 2, 7, 6);
        assertThat(out.shape("lse")).containsExactly(1, 2, 7);
        assertThat(out.floats("o")).containsExactly(Npy.read(dir.resolve("o.npy")).toFloatArray());
        assertThat(out.floats("lse")).containsExactly(Npy.read(dir.resolve("lse.npy")).toFloatArray());
        SafetensorsFile grads = SafetensorsFile.open(dir.resolve("grads.safetensors"));
        assertThat(grads.names()).containsExactly("dq", "dk");
        assertThat(grads.floats("dq")).containsExactly(Npy.read(dir.resolve("dq.npy")).toFloatArray());
        assertThat(grads.floats("dk")).containsExactly(Npy.read(dir.resolve("dk.npy")).toFloatArray());
        assertThat(SafetensorsFile.open(dir.resolve("dv.npy.safetensors")).floats("dv"))
                .containsExactly(Npy.read(dir.resolve("dv.npy")).toFloatArray());
        assertThat(dir).isDirectoryNotContaining("glob:**.tmp");
    }

    @Test
    void float64OutputsAreF64() throws IOException {
        String in = p("in.safetensors");
        CliRun st = CliRun.of("attend", "--q", in + ":layer.0:q", "--k", in + ":k", "--v", in + ":v",
                "--precision", "float64", "--out", p("o64.safetensors") + ":o", "--quiet");
        assertThat(st.code()).as(st.err()).isZero();
        SafetensorsFile out = SafetensorsFile.open(dir.resolve("o64.safetensors"));
        assertThat(out.dtype("o")).isEqualTo(DType.FLOAT64);
    }

    @Test
    void compareTakesSafetensorsTensors() throws IOException {
        String in = p("in.safetensors");
        CliRun r = CliRun.of("compare", "--ref", in + ":k", "--got", p("k.npy"), "--baseline", p("k.npy"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("PASS");
        CliRun missing = CliRun.of("compare", "--ref", in + ":nope", "--got", p("k.npy"));
        missing.assertOneLineError(1, "in.safetensors: no tensor named 'nope'", "'layer.0:q'");
        CliRun ints = CliRun.of("compare", "--ref", in + ":ids", "--got", p("k.npy"));
        ints.assertOneLineError(1, "in.safetensors:ids: dtype int32 is not floating point");
    }

    @Test
    void badArgumentsAreCleanErrors() throws IOException {
        String in = p("in.safetensors");
        CliRun.of("attend", "--q", in + ":qq", "--k", in + ":k", "--v", in + ":v", "--out", p("o.npy"))
                .assertOneLineError(1, "in.safetensors: no tensor named 'qq'");
        CliRun.of("attend", "--q", in + ":ids", "--k", in + ":k", "--v", in + ":v", "--out", p("o.npy"))
                .assertOneLineError(1, "in.safetensors:ids: dtype int32 is not floating point");
        CliRun.of("attend", "--q", in, "--k", in + ":k", "--v", in + ":v", "--out", p("o.npy"))
                .assertOneLineError(2, "in.safetensors: name the tensor as FILE.safetensors:NAME");
        CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.safetensors"))
                .assertOneLineError(2, "--out " + p("o.safetensors") + ": name the tensor");
        CliRun.of("attend", "--q", in + ":layer.0:q", "--k", in + ":k", "--v", in + ":v", "--out", in + ":o")
                .assertOneLineError(2, "--out " + in + ":o: is also an input");
        CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("x.safetensors")
                + ":o", "--lse", p("x.safetensors") + ":o").assertOneLineError(2, "is named by another output option");
        Path broken = Files.write(dir.resolve("broken.safetensors"), new byte[] {1, 0, 0, 0, 0, 0, 0, 0, '['});
        CliRun.of("attend", "--q", broken + ":q", "--k", in + ":k", "--v", in + ":v", "--out", p("o.npy"))
                .assertOneLineError(1, "broken.safetensors: header does not start with '{'");
        assertThat(dir.resolve("o.npy")).doesNotExist();
    }

    @Test
    void failedRunLeavesAnExistingSafetensorsFile() throws IOException {
        Path target = Files.writeString(dir.resolve("keep.safetensors"), "old");
        float[] withNaN = v.clone();
        withNaN[5] = Float.NaN;
        Npy.write(dir.resolve("vnan.npy"), new long[] {1, 1, 9, 6}, withNaN);
        CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("vnan.npy"), "--out", target + ":o")
                .assertOneLineError(1, "vnan.npy");
        assertThat(Files.readString(target)).isEqualTo("old");
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    private static double[] widen(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }
}
