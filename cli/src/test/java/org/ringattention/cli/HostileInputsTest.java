package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.Npy;

/**
 * Hostile inputs through attend and compare: each gives exit 1 (bad data) or 2 (bad usage), one
 * line on stderr naming the file or option and the problem, no stack trace without --verbose, and
 * leaves existing output files exactly as they were, with no temporary file behind.
 */
class HostileInputsTest {

    @TempDir
    Path dir;

    private static final String PRECIOUS = "precious bytes";

    @BeforeEach
    void inputs() throws IOException {
        Npy.write(dir.resolve("q.npy"), new long[] {1, 2, 6, 4}, CliRun.random(48, 1));
        Npy.write(dir.resolve("k.npy"), new long[] {1, 1, 7, 4}, CliRun.random(28, 2));
        Npy.write(dir.resolve("v.npy"), new long[] {1, 1, 7, 4}, CliRun.random(28, 3));
        Npy.write(dir.resolve("do.npy"), new long[] {1, 2, 6, 4}, CliRun.random(48, 4));
        for (String out : List.of("o.npy", "lse.npy", "dq.npy", "dk.npy", "dv.npy")) {
            Files.writeString(dir.resolve(out), PRECIOUS);
        }
    }

    @Test
    void corruptFilesAreBadData() throws IOException {
        HostileFiles.truncated(dir.resolve("trunc.npy"), dir.resolve("k.npy"));
        attendWithK("trunc.npy").assertOneLineError(1, "trunc.npy", "truncated");
        HostileFiles.badMagic(dir.resolve("magic.npy"), dir.resolve("k.npy"));
        attendWithK("magic.npy").assertOneLineError(1, "magic.npy", "not a .npy file");
        HostileFiles.notNpy(dir.resolve("text.npy"));
        attendWithK("text.npy").assertOneLineError(1, "text.npy");
        HostileFiles.npy(dir.resolve("dict.npy"), "{'descr': '<f4', 'shape': (1, 1, 7, 4), }", new byte[112]);
        attendWithK("dict.npy").assertOneLineError(1, "dict.npy", "fortran_order");
        HostileFiles.npy(dir.resolve("dtype.npy"), "{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }",
                new byte[16]);
        attendWithK("dtype.npy").assertOneLineError(1, "dtype.npy", "unsupported dtype");
        Files.write(dir.resolve("empty.npy"), new byte[0]);
        attendWithK("empty.npy").assertOneLineError(1, "empty.npy");
        attendWithK("missing.npy").assertOneLineError(1, "missing.npy", "no such file");
        Files.createDirectory(dir.resolve("folder.npy"));
        attendWithK("folder.npy").assertOneLineError(1, "folder.npy", "is a directory");
        assertOutputsUntouched();
    }

    @Test
    void absurdHeaderIsRefusedBeforeAllocating() throws IOException {
        HostileFiles.absurdShape(dir.resolve("huge.npy"));
        attendWithK("huge.npy").assertOneLineError(1, "huge.npy");
        HostileFiles.npy(dir.resolve("overflow.npy"),
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296), }",
                new byte[8]);
        attendWithK("overflow.npy").assertOneLineError(1, "overflow.npy", "overflows");
        HostileFiles.npy(dir.resolve("neg.npy"), "{'descr': '<f4', 'fortran_order': False, 'shape': (-1, 4), }",
                new byte[16]);
        attendWithK("neg.npy").assertOneLineError(1, "neg.npy", "negative dimension");
        compare("--ref", p("huge.npy"), "--got", p("k.npy")).assertOneLineError(1, "huge.npy");
        assertOutputsUntouched();
    }

    @Test
    void nonFiniteValuesAreBadData() throws IOException {
        float[] k = CliRun.random(28, 2);
        k[9] = Float.POSITIVE_INFINITY;
        Npy.write(dir.resolve("inf.npy"), new long[] {1, 1, 7, 4}, k);
        attendWithK("inf.npy").assertOneLineError(1, "inf.npy: contains Infinity at index [0, 0, 2, 1]");
        HostileFiles.float64Overflow(dir.resolve("big.npy"), new long[] {1, 1, 7, 4}, 5);
        attendWithK("big.npy").assertOneLineError(1, "big.npy: value 1.0E39 at index [0, 0, 1, 1] overflows float32",
                "--precision float64");
        float[] d = CliRun.random(48, 4);
        d[47] = Float.NaN;
        Npy.write(dir.resolve("nan_do.npy"), new long[] {1, 2, 6, 4}, d);
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--do", p("nan_do.npy"),
                "--dq", p("dq.npy"), "--dk", p("dk.npy"), "--dv", p("dv.npy"))
                .assertOneLineError(1, "nan_do.npy: contains NaN at index [0, 1, 5, 3]");
        attend("--q", p("q.npy"), "--k", p("inf.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--precision",
                "float64").assertOneLineError(1, "inf.npy: contains Infinity");
        assertOutputsUntouched();
    }

    @Test
    void mismatchedShapesAreBadData() throws IOException {
        Npy.write(dir.resolve("k_d5.npy"), new long[] {1, 1, 7, 5}, CliRun.random(35, 5));
        attend("--q", p("q.npy"), "--k", p("k_d5.npy"), "--v", p("k_d5.npy"), "--out", p("o.npy"))
                .assertOneLineError(1, "k_d5.npy: head dim 5");
        Npy.write(dir.resolve("v_n8.npy"), new long[] {1, 1, 8, 4}, CliRun.random(32, 5));
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v_n8.npy"), "--out", p("o.npy"))
                .assertOneLineError(1, "v_n8.npy: shape [1, 1, 8, 4] differs from");
        Npy.write(dir.resolve("k_b2.npy"), new long[] {2, 1, 7, 4}, CliRun.random(56, 5));
        attend("--q", p("q.npy"), "--k", p("k_b2.npy"), "--v", p("k_b2.npy"), "--out", p("o.npy"))
                .assertOneLineError(1, "k_b2.npy: batch 2 differs");
        Npy.write(dir.resolve("rank5.npy"), new long[] {1, 1, 1, 7, 4}, CliRun.random(28, 5));
        attendWithK("rank5.npy").assertOneLineError(1, "rank5.npy", "rank 5");
        Npy.writeInt32(dir.resolve("ints.npy"), new long[] {1, 1, 7, 4}, new int[28]);
        attendWithK("ints.npy").assertOneLineError(1, "ints.npy", "not floating point");
        Npy.write(dir.resolve("seg_float.npy"), new long[] {1, 6}, CliRun.random(6, 5));
        Npy.write(dir.resolve("k6.npy"), new long[] {1, 1, 6, 4}, CliRun.random(24, 5));
        attend("--q", p("q.npy"), "--k", p("k6.npy"), "--v", p("k6.npy"), "--out", p("o.npy"), "--segments",
                p("seg_float.npy")).assertOneLineError(1, "seg_float.npy: segment ids must be int32 or int64");
        Npy.writeInt32(dir.resolve("seg_short.npy"), new long[] {1, 5}, new int[5]);
        attend("--q", p("q.npy"), "--k", p("k6.npy"), "--v", p("k6.npy"), "--out", p("o.npy"), "--segments",
                p("seg_short.npy")).assertOneLineError(1, "seg_short.npy: segment ids have shape [1, 5]");
        Npy.write(dir.resolve("do_bad.npy"), new long[] {1, 2, 6, 5}, CliRun.random(60, 5));
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy"), "--do", p("do_bad.npy"),
                "--dq", p("dq.npy"), "--dk", p("dk.npy"), "--dv", p("dv.npy"))
                .assertOneLineError(1, "do_bad.npy: shape [1, 2, 6, 5] differs from");
        assertOutputsUntouched();
    }

    @Test
    void badOptionValuesAreBadUsage() {
        String[] base = {"--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("o.npy")};
        attend(CliRun.concat(base, "--block-q", "-1")).assertOneLineError(2, "--block-q must be >= 1, got -1");
        attend(CliRun.concat(base, "--block-kv", "0")).assertOneLineError(2, "--block-kv must be >= 1");
        attend(CliRun.concat(base, "--block-q", "1e9")).assertOneLineError(2, "--block-q");
        attend(CliRun.concat(base, "--window", "0")).assertOneLineError(2, "--window must be >= 1");
        attend(CliRun.concat(base, "--scale", "Infinity")).assertOneLineError(2, "--scale must be a finite non-zero number");
        attend(CliRun.concat(base, "--scale", "0")).assertOneLineError(2, "--scale");
        attend(CliRun.concat(base, "--precision", "bf16")).assertOneLineError(2, "--precision must be float32 or float64");
        attend(CliRun.concat(base, "--dq", p("dq.npy"))).assertOneLineError(2, "need --do");
        attend(CliRun.concat(base, "--lse", p("o.npy"))).assertOneLineError(2, "--lse", "named by another output option");
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", p("k.npy"))
                .assertOneLineError(2, "--out", "is also an input");
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"), "--out", dir.toString())
                .assertOneLineError(2, "is a directory");
        attend("--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy")).assertOneLineError(2, "--out");
        compare("--ref", p("q.npy"), "--got", p("q.npy"), "--factor", "0.5").assertOneLineError(2, "--factor");
        compare("--ref", p("q.npy"), "--got", p("q.npy"), "--rel-floor", "-1").assertOneLineError(2, "--rel-floor");
        compare("--ref", p("q.npy")).assertOneLineError(2, "--got");
        assertOutputsUntouched();
    }

    @Test
    void verboseAddsTheStackTrace() throws IOException {
        HostileFiles.truncated(dir.resolve("trunc.npy"), dir.resolve("k.npy"));
        CliRun r = attend("--q", p("q.npy"), "--k", p("trunc.npy"), "--v", p("v.npy"), "--out", p("o.npy"),
                "--verbose");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("trunc.npy").contains("\tat org.ringattention.");
        assertOutputsUntouched();
    }

    private CliRun attendWithK(String k) {
        return attend("--q", p("q.npy"), "--k", p(k), "--v", p("v.npy"), "--out", p("o.npy"), "--lse", p("lse.npy"));
    }

    private CliRun attend(String... args) {
        List<String> all = new ArrayList<>(List.of("attend"));
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(String[]::new));
    }

    private CliRun compare(String... args) {
        List<String> all = new ArrayList<>(List.of("compare"));
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(String[]::new));
    }

    private void assertOutputsUntouched() {
        try {
            for (String out : List.of("o.npy", "lse.npy", "dq.npy", "dk.npy", "dv.npy")) {
                assertThat(Files.readString(dir.resolve(out))).as(out).isEqualTo(PRECIOUS);
            }
            try (Stream<Path> s = Files.list(dir)) {
                assertThat(s.map(x -> x.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList()).isEmpty();
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }
}
