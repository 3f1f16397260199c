package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;

/** Runs the command line in-process and keeps what it printed. */
record CliRun(int code, String out, String err) {

    static CliRun of(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.run(args, new PrintWriter(out), new PrintWriter(err));
        return new CliRun(code, out.toString(), err.toString());
    }

    /** stderr is one line (besides picocli's "Try ... --help" hint) containing every fragment, no stack trace. */
    CliRun assertOneLineError(int expectedCode, String... fragments) {
        assertThat(code).as("exit code; stderr: %s", err).isEqualTo(expectedCode);
        List<String> lines = err.lines().filter(l -> !l.startsWith("Try '")).toList();
        assertThat(lines).as(err).hasSize(1);
        assertThat(lines.get(0)).startsWith("ring-attention: ").doesNotContain("Exception").doesNotContain("\tat ");
        for (String f : fragments) {
            assertThat(lines.get(0)).contains(f);
        }
        return this;
    }

    /** {@code a} followed by {@code b}: a base command line with more options. */
    static String[] concat(String[] a, String... b) {
        String[] r = new String[a.length + b.length];
        System.arraycopy(a, 0, r, 0, a.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** {@code n} standard normal floats from {@code seed}. */
    static float[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }

    /** The repository's golden-data folder, found upwards from the working directory. */
    static Path goldenDir() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            if (Files.isRegularFile(p.resolve("golden-data/manifest.json"))) {
                return p.resolve("golden-data");
            }
        }
        throw new IllegalStateException("no golden-data/manifest.json above the working directory");
    }

    /** The interpreter itself (not a pyenv shim, which costs seconds per start), or null. */
    static String pythonWithNumpy() {
        for (String candidate : List.of("python3", "/usr/bin/python3")) {
            try {
                Process p = new ProcessBuilder(candidate, "-c", "import sys, numpy; print(sys.executable)")
                        .redirectErrorStream(true).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0 && !out.isEmpty()) {
                    return out.lines().reduce((a, b) -> b).orElseThrow();
                }
            } catch (IOException e) {
                // not installed: try the next one
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }
}
