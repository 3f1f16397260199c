package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.golden.GoldenCases;
import org.ringattention.tensor.Npy;

/** golden verify and golden generate: tables, exit codes, damaged sets. */
class GoldenCommandTest {

    private static final Path SET = CliRun.goldenDir();

    @TempDir
    Path tmp;

    @Test
    void verifyPrintsATableAndPasses() {
        CliRun r = CliRun.of("golden", "verify", "--dir", SET.toString(), "--case", "window1", "--case", "tiny_n1_d1");
        assertThat(r.code()).as(r.out() + r.err()).isZero();
        assertThat(r.out()).contains("golden verify: 2 of " + GoldenCases.all().size() + " cases")
                .containsPattern("case +path +output +error +bound +ratio +verdict")
                .containsPattern("window1 +vanilla float64 +\\S+ +0\\.000e\\+00")
                .containsPattern("window1 +blockwise \\S+ 3x5 t2 ")
                .contains("checks: ").contains(" passed, 0 failed");
        assertThat(r.err()).isEmpty(); // no progress bar: not a terminal
        long rows = r.out().lines().filter(l -> l.startsWith("window1 ")).count();
        CliRun detail = CliRun.of("golden", "verify", "--dir", SET.toString(), "--case", "window1", "--detail");
        assertThat(detail.out().lines().filter(l -> l.startsWith("window1 ")).count()).isEqualTo(5 * rows);
        CliRun quiet = CliRun.of("golden", "verify", "--dir", SET.toString(), "--case", "window1", "--quiet");
        assertThat(quiet.out().lines().filter(l -> l.startsWith("window1 ")).count()).isZero();
        assertThat(quiet.code()).isZero();
    }

    @Test
    void verifyFailsOnAWrongReference() throws IOException {
        copySet("window1");
        Path o = tmp.resolve("cases/window1/o.npy");
        double[] x = Npy.read(o).toDoubleArray();
        x[3] += 1e-6;
        Npy.write(o, new long[] {1, 2, 50, 8}, x);
        CliRun r = CliRun.of("golden", "verify", "--dir", tmp.toString(), "--case", "window1");
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.out()).containsPattern("window1 +vanilla float64 +O .*FAIL \\(worst at flat index 3")
                .contains("1 failed)").doesNotContain(" 0 failed");
    }

    @Test
    void damagedOrMissingSetsAreBadData() throws IOException {
        CliRun.of("golden", "verify", "--dir", tmp.resolve("none").toString())
                .assertOneLineError(1, "none: no such folder");
        CliRun.of("golden", "verify", "--dir", tmp.toString()).assertOneLineError(1, "manifest.json: no such file");
        Files.writeString(tmp.resolve("manifest.json"), "{\"format\": \"ring-attention-golden\", \"version\": 1,");
        CliRun.of("golden", "verify", "--dir", tmp.toString())
                .assertOneLineError(1, "manifest.json: not valid JSON: line 1, column");
        Files.write(tmp.resolve("manifest.json"), new byte[] {(byte) 0xff, (byte) 0xfe, 0});
        CliRun.of("golden", "verify", "--dir", tmp.toString()).assertOneLineError(1, "manifest.json: not UTF-8");

        copySet("window1");
        Path k = tmp.resolve("cases/window1/k.npy");
        byte[] bytes = Files.readAllBytes(k);
        Files.write(k, java.util.Arrays.copyOf(bytes, 100));
        CliRun.of("golden", "verify", "--dir", tmp.toString(), "--case", "window1")
                .assertOneLineError(1, "k.npy", "truncated");
        Npy.write(k, new long[] {1, 2, 50, 8}, new double[800]);
        CliRun.of("golden", "verify", "--dir", tmp.toString(), "--case", "window1")
                .assertOneLineError(1, "k.npy: dtype float64 differs from the manifest's float32");
        Npy.write(k, new long[] {1, 2, 50, 4}, new float[400]);
        CliRun.of("golden", "verify", "--dir", tmp.toString(), "--case", "window1")
                .assertOneLineError(1, "k.npy: shape [1, 2, 50, 4] differs from the manifest's [1, 2, 50, 8]");
    }

    @Test
    void unknownCaseIsBadUsage() {
        CliRun.of("golden", "verify", "--dir", SET.toString(), "--case", "nope")
                .assertOneLineError(2, "--case nope: no such case; the set has tiny_n1_d1");
        CliRun.of("golden", "verify", "--bogus").assertOneLineError(2, "Unknown option: '--bogus'");
    }

    @Test
    void generateWritesTheSetAndRefusesAFileAsFolder() throws IOException {
        Path out = tmp.resolve("set");
        CliRun r = CliRun.of("golden", "generate", "--dir", out.toString());
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("golden generate: " + GoldenCases.all().size() + " cases");
        assertThat(Files.mismatch(out.resolve("manifest.json"), SET.resolve("manifest.json"))).isEqualTo(-1L);
        try (Stream<Path> s = Files.walk(out)) {
            assertThat(s.filter(p -> p.getFileName().toString().endsWith(".tmp")).toList()).isEmpty();
        }
        CliRun verify = CliRun.of("golden", "verify", "--dir", out.toString(), "--case", "custom_scale", "--quiet");
        assertThat(verify.code()).as(verify.out()).isZero();

        Path file = Files.writeString(tmp.resolve("plain"), "precious");
        CliRun.of("golden", "generate", "--dir", file.toString()).assertOneLineError(2, "is not a folder");
        assertThat(Files.readString(file)).isEqualTo("precious");
        CliRun.of("golden", "generate", "--dir", tmp.resolve("a/b").toString()).assertOneLineError(2, "does not exist");
    }

    /** The manifest and the named cases' files, copied into tmp. */
    private void copySet(String... cases) throws IOException {
        Files.copy(SET.resolve("manifest.json"), tmp.resolve("manifest.json"),
                java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        for (String c : cases) {
            Path to = Files.createDirectories(tmp.resolve("cases").resolve(c));
            try (Stream<Path> s = Files.list(SET.resolve("cases").resolve(c))) {
                for (Path p : s.toList()) {
                    Files.copy(p, to.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
