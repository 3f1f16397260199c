package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;
import org.ringattention.tensor.Tensor;

/** The attend contract: outputs, exit codes, one-line errors, and no damage to existing files. */
class AttendCommandTest {

    @TempDir
    Path dir;

    private String stderr;

    private final float[] q = CliRun.random(1 * 4 * 9 * 5, 1);
    private final float[] k = CliRun.random(1 * 2 * 11 * 5, 2);
    private final float[] v = CliRun.random(1 * 2 * 11 * 5, 3);
    private final float[] dOut = CliRun.random(1 * 4 * 9 * 5, 4);

    @BeforeEach
    void writeInputs() throws IOException {
        Npy.write(dir.resolve("q.npy"), new long[] {1, 4, 9, 5}, q);
        Npy.write(dir.resolve("k.npy"), new long[] {1, 2, 11, 5}, k);
        Npy.write(dir.resolve("v.npy"), new long[] {1, 2, 11, 5}, v);
        Npy.write(dir.resolve("do.npy"), new long[] {1, 4, 9, 5}, dOut);
    }

    @Test
    void writesTheEngineResult() throws IOException {
        int code = run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--lse",
                p("lse.npy"), "--causal", "--block-q", "4", "--block-kv", "3");
        assertThat(code).as(stderr).isZero();
        AttentionOutput expected = new BlockwiseAttention(Kernels.preferred(), 4, 3).forward(
                Tensor.wrap(q.clone(), 1, 4, 9, 5), Tensor.wrap(k.clone(), 1, 2, 11, 5),
                Tensor.wrap(v.clone(), 1, 2, 11, 5), AttentionSpec.DEFAULT.withCausal(true));
        NpyArray o = Npy.read(dir.resolve("o.npy"));
        assertThat(o.shape()).containsExactly(1, 4, 9, 5);
        assertThat(o.toFloatArray()).isEqualTo(expected.out().toArray());
        NpyArray lse = Npy.read(dir.resolve("lse.npy"));
        assertThat(lse.shape()).containsExactly(1, 4, 9);
        assertThat(lse.toFloatArray()).isEqualTo(expected.lse());
        assertThat(dir).isDirectoryNotContaining("glob:**.tmp");
    }

    /** --devices runs the ring: the engine's ring result, bit for bit, gradients included. */
    @Test
    void devicesRunTheRing() throws IOException {
        int code = run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--lse",
                p("lse.npy"), "--causal", "--block-q", "2", "--block-kv", "3", "--devices", "3", "--layout", "striped",
                "--link-bandwidth", "50M", "--link-latency", "1ms", "--do", p("do.npy"), "--dq", p("dq.npy"), "--dk",
                p("dk.npy"), "--dv", p("dv.npy"));
        assertThat(code).as(stderr).isZero();
        RingAttention.Backward expected = new RingAttention(Kernels.preferred(), 2, 3, 1, 3, Layout.STRIPED,
                LinkModel.UNTHROTTLED).backward(Tensor.wrap(q.clone(), 1, 4, 9, 5),
                Tensor.wrap(k.clone(), 1, 2, 11, 5), Tensor.wrap(v.clone(), 1, 2, 11, 5),
                Tensor.wrap(dOut.clone(), 1, 4, 9, 5), AttentionSpec.DEFAULT.withCausal(true));
        assertThat(Npy.read(dir.resolve("o.npy")).toFloatArray()).isEqualTo(expected.output().out().toArray());
        assertThat(Npy.read(dir.resolve("lse.npy")).toFloatArray()).isEqualTo(expected.output().lse());
        assertThat(Npy.read(dir.resolve("dq.npy")).toFloatArray()).isEqualTo(expected.gradients().dq().toArray());
        assertThat(Npy.read(dir.resolve("dk.npy")).toFloatArray()).isEqualTo(expected.gradients().dk().toArray());
        assertThat(Npy.read(dir.resolve("dv.npy")).toFloatArray()).isEqualTo(expected.gradients().dv().toArray());
        assertThat(stderr).contains("ring float32 over 3 devices, striped layout");
    }

    @Test
    void float64WritesTheOracleAndGradients() throws IOException {
        int code = run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--precision",
                "float64", "--window", "3", "--do", p("do.npy"), "--dq", p("dq.npy"), "--dk", p("dk.npy"), "--dv",
                p("dv.npy"));
        assertThat(code).as(stderr).isZero();
        AttentionShape shape = new AttentionShape(1, 4, 2, 9, 11, 5);
        VanillaAttention.Grads g = VanillaAttention.oracle().backward(shape, AttentionSpec.DEFAULT.withWindow(3),
                widen(q), widen(k), widen(v), widen(dOut));
        assertThat(Npy.read(dir.resolve("dk.npy")).toDoubleArray()).isEqualTo(g.dk());
        assertThat(Npy.read(dir.resolve("dq.npy")).shape()).containsExactly(1, 4, 9, 5);
    }

    @Test
    void missingFileIsBadDataNamingTheFile() {
        int code = run("--q", p("nope.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"));
        assertThat(code).isEqualTo(1);
        assertOneLine("nope.npy");
        assertThat(dir.resolve("o.npy")).doesNotExist();
    }

    @Test
    void nonFiniteInputIsBadDataAndLeavesOutputsAlone() throws IOException {
        float[] bad = v.clone();
        bad[7] = Float.NaN;
        Npy.write(dir.resolve("bad.npy"), new long[] {1, 2, 11, 5}, bad);
        Files.writeString(dir.resolve("o.npy"), "precious");
        int code = run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("bad.npy"), "--out", p("o.npy"));
        assertThat(code).isEqualTo(1);
        assertOneLine("bad.npy: contains NaN at index [0, 0, 1, 2]");
        assertThat(Files.readString(dir.resolve("o.npy"))).isEqualTo("precious");
    }

    @Test
    void mismatchedHeadsAndShapesAreBadData() throws IOException {
        Npy.write(dir.resolve("k3.npy"), new long[] {1, 3, 11, 5}, CliRun.random(3 * 11 * 5, 5));
        assertThat(run("--q", p("q.npy"), "--k", p("k3.npy"), "--v", p("k3.npy"), "--out", p("o.npy"))).isEqualTo(1);
        assertOneLine("4 query heads are not a multiple of the 3 key/value heads");
        assertThat(run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("q.npy"), "--out", p("o.npy"))).isEqualTo(1);
        assertOneLine("q.npy: shape [1, 4, 9, 5] differs from");
        Npy.write(dir.resolve("seg.npy"), new long[] {1, 9}, CliRun.random(9, 6));
        assertThat(run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--segments",
                p("seg.npy"))).isEqualTo(1);
        assertOneLine("segment ids need Nq = Nk");
    }

    @Test
    void badOptionsAreUsageErrors() {
        String[] base = {"--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy")};
        assertThat(run(CliRun.concat(base, "--block-q", "0"))).isEqualTo(2);
        assertOneLine("--block-q must be >= 1");
        assertThat(run(CliRun.concat(base, "--window", "-3"))).isEqualTo(2);
        assertThat(run(CliRun.concat(base, "--precision", "float16"))).isEqualTo(2);
        assertOneLine("--precision must be float32 or float64");
        assertThat(run(CliRun.concat(base, "--scale", "NaN"))).isEqualTo(2);
        assertThat(run(CliRun.concat(base, "--do", p("do.npy")))).isEqualTo(2);
        assertOneLine("--do needs all of --dq, --dk and --dv");
        assertThat(run(CliRun.concat(base, "--block-kv", "many"))).isEqualTo(2);
        assertThat(run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("q.npy"))).isEqualTo(2);
        assertOneLine("is also an input");
        assertThat(run("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("missing/o.npy")))
                .isEqualTo(2);
        assertOneLine("does not exist");
        assertThat(run("--q", p("q.npy"))).isEqualTo(2);
        assertThat(run(CliRun.concat(base, "--devices", "0"))).isEqualTo(2);
        assertOneLine("--devices must be between 1 and 4096");
        assertThat(run(CliRun.concat(base, "--devices", "10"))).isEqualTo(2);
        assertOneLine("--devices (10) must be at most the sequence length (9)");
        assertThat(run(CliRun.concat(base, "--devices", "2", "--layout", "spiral"))).isEqualTo(2);
        assertOneLine("unknown layout 'spiral'");
        assertThat(run(CliRun.concat(base, "--devices", "2", "--link-bandwidth", "fast"))).isEqualTo(2);
        assertOneLine("--link-bandwidth must be a number of bytes/s");
        assertThat(run(CliRun.concat(base, "--devices", "2", "--link-latency", "5 parsecs"))).isEqualTo(2);
        assertOneLine("--link-latency");
        assertThat(run(CliRun.concat(base, "--devices", "2", "--link-bandwidth", "0"))).isEqualTo(2);
        assertOneLine("--link-bandwidth must be > 0");
    }

    private void assertOneLine(String fragment) {
        List<String> lines = stderr.lines().filter(l -> !l.startsWith("Try '")).toList();
        assertThat(lines).as(stderr).hasSize(1);
        assertThat(lines.get(0)).contains(fragment).doesNotContain("Exception");
    }

    private int run(String... args) {
        List<String> all = new ArrayList<>(List.of("attend"));
        all.addAll(List.of(args));
        StringWriter err = new StringWriter();
        int code = Main.run(all.toArray(String[]::new), new PrintWriter(new StringWriter()), new PrintWriter(err));
        stderr = err.toString();
        return code;
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    private static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
