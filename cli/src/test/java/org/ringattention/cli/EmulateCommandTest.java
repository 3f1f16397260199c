package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.LowPrecisionAttention;
import org.ringattention.attention.LowPrecisionAttention.Format;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.SafetensorsFile;
import org.ringattention.tensor.Tensor;

/** {@code attend --emulate}: the reference low-precision outputs, in the format, and their use as a baseline. */
class EmulateCommandTest {

    @TempDir
    Path dir;

    private final float[] q = CliRun.random(2 * 23 * 16, 1);
    private final float[] k = CliRun.random(1 * 29 * 16, 2);
    private final float[] v = CliRun.random(1 * 29 * 16, 3);
    private final float[] dOut = CliRun.random(2 * 23 * 16, 4);

    @BeforeEach
    void writeInputs() throws IOException {
        Npy.write(dir.resolve("q.npy"), new long[] {1, 2, 23, 16}, q);
        Npy.write(dir.resolve("k.npy"), new long[] {1, 1, 29, 16}, k);
        Npy.write(dir.resolve("v.npy"), new long[] {1, 1, 29, 16}, v);
        Npy.write(dir.resolve("do.npy"), new long[] {1, 2, 23, 16}, dOut);
    }

    @Test
    void writesTheReferencePathInTheFormat() throws IOException {
        CliRun r = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--causal",
                "--emulate", "bfloat16", "--out", p("o.npy"), "--lse", p("lse.npy"), "--do", p("do.npy"),
                "--dq", p("dq.npy"), "--dk", p("grads.safetensors") + ":dk", "--dv", p("dv.npy"), "--bf16-bits");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("emulated bfloat16 reference path");
        AttentionSpec spec = AttentionSpec.DEFAULT.withCausal(true);
        LowPrecisionAttention lp = new LowPrecisionAttention(Format.BFLOAT16);
        AttentionOutput o = lp.forward(t(q, 2, 23), t(k, 1, 29), t(v, 1, 29), spec);
        Gradients g = lp.backward(t(q, 2, 23), t(k, 1, 29), t(v, 1, 29), o, t(dOut, 2, 23), spec);

        NpyArray out = Npy.read(dir.resolve("o.npy"));
        assertThat(out.dtype()).isEqualTo(DType.UINT16); // --bf16-bits
        assertThat(out.asBFloat16Bits().toFloatArray()).containsExactly(o.out().toArray());
        NpyArray lse = Npy.read(dir.resolve("lse.npy"));
        assertThat(lse.dtype()).isEqualTo(DType.FLOAT32);
        assertThat(lse.toFloatArray()).containsExactly(o.lse());
        assertThat(Npy.read(dir.resolve("dq.npy")).asBFloat16Bits().toFloatArray()).containsExactly(g.dq().toArray());
        SafetensorsFile grads = SafetensorsFile.open(dir.resolve("grads.safetensors"));
        assertThat(grads.dtype("dk")).isEqualTo(DType.BFLOAT16);
        assertThat(grads.floats("dk")).containsExactly(g.dk().toArray());
        assertThat(Npy.read(dir.resolve("dv.npy")).asBFloat16Bits().toFloatArray()).containsExactly(g.dv().toArray());

        CliRun half = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"),
                "--emulate", "float16", "--out", p("o16.npy"), "--quiet");
        assertThat(half.code()).as(half.err()).isZero();
        NpyArray o16 = Npy.read(dir.resolve("o16.npy"));
        assertThat(o16.dtype()).isEqualTo(DType.FLOAT16);
        assertThat(o16.toFloatArray()).containsExactly(new LowPrecisionAttention(Format.FLOAT16)
                .forward(t(q, 2, 23), t(k, 1, 29), t(v, 1, 29), AttentionSpec.DEFAULT).out().toArray());
        CliRun v2 = CliRun.of("attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"),
                "--emulate", "bfloat16", "--out", p("ov2.npy"), "--quiet");
        assertThat(v2.code()).as(v2.err()).isZero();
        assertThat(Npy.read(dir.resolve("ov2.npy")).dtype()).isEqualTo(DType.BFLOAT16); // ml_dtypes' '<V2'
    }

    /** A bfloat16 implementation that follows the documented path passes at bfloat16 and fails at float32. */
    @Test
    void servesAsTheBaselineOfCompare() {
        String[] in = {"--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--quiet"};
        assertThat(CliRun.of(CliRun.concat(concat("attend", in), "--precision", "float64", "--out", p("ref.npy")))
                .code()).isZero();
        assertThat(CliRun.of(CliRun.concat(concat("attend", in), "--out", p("f32.npy"))).code()).isZero();
        assertThat(CliRun.of(CliRun.concat(concat("attend", in), "--emulate", "bfloat16", "--out", p("base.npy")))
                .code()).isZero();
        // "the implementation": the same documented path, e.g. another program's output
        assertThat(CliRun.of(CliRun.concat(concat("attend", in), "--emulate", "bfloat16", "--out", p("got.npy")))
                .code()).isZero();
        CliRun pass = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got.npy"), "--baseline", p("base.npy"));
        assertThat(pass.code()).as(pass.out() + pass.err()).isZero();
        assertThat(pass.out()).contains("PASS");
        CliRun fail = CliRun.of("compare", "--ref", p("ref.npy"), "--got", p("got.npy"), "--baseline", p("f32.npy"));
        assertThat(fail.code()).as(fail.out() + fail.err()).isEqualTo(CompareCommand.VERDICT_FAIL);
        assertThat(fail.out()).contains("FAIL");
    }

    @Test
    void usageErrors() {
        String[] in = {"attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy")};
        CliRun.of(CliRun.concat(in, "--emulate", "float8")).assertOneLineError(2,
                "--emulate must be bfloat16 or float16, got 'float8'");
        CliRun.of(CliRun.concat(in, "--emulate", "float16", "--precision", "float64")).assertOneLineError(2,
                "--emulate float16 and --precision float64 exclude each other");
        CliRun.of(CliRun.concat(in, "--emulate", "float16", "--devices", "2")).assertOneLineError(2,
                "does not take --devices");
    }

    @Test
    void valuesBeyondFloat16AreBadData() throws IOException {
        float[] big = q.clone();
        big[3] = 1e5f;
        Npy.write(dir.resolve("big.npy"), new long[] {1, 2, 23, 16}, big);
        CliRun.of("attend", "--q", p("big.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--emulate", "float16").assertOneLineError(1, "--emulate float16: q holds 100000.0 at [0, 0, 0, 3],"
                + " beyond the range of float16");
    }

    private static String[] concat(String first, String[] rest) {
        return CliRun.concat(new String[] {first}, rest);
    }

    private static Tensor t(float[] data, int heads, int rows) {
        return Tensor.wrap(data.clone(), 1, heads, rows, 16);
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }
}
