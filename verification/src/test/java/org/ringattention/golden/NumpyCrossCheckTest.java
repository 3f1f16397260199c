package org.ringattention.golden;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.Npy;

/**
 * The golden references against golden-data/numpy_reference.py, an independent float64 NumPy
 * implementation of the README's semantics (the sinks' gradient included, which the script also
 * checks against central differences of its own forward pass). Runs when /usr/bin/python3 has NumPy (.ci/run installs
 * it); skipped otherwise.
 */
class NumpyCrossCheckTest {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final Path SET = GoldenDirs.committed();
    private static final Path SCRIPT = SET.resolve("numpy_reference.py");

    @TempDir
    Path tmp;

    private record Run(int exitCode, String output) {
    }

    @BeforeAll
    static void needsNumpy() throws Exception {
        assumeTrue(Files.isExecutable(PYTHON), "no " + PYTHON + ": the NumPy cross-check is skipped");
        Run r = run(PYTHON.toString(), "-c", "import numpy");
        assumeTrue(r.exitCode() == 0, PYTHON + " has no NumPy (apt-get install python3-numpy): the NumPy cross-check"
                + " is skipped");
    }

    @Test
    void numpyAgreesWithEveryStoredReference() throws Exception {
        Run r = run(PYTHON.toString(), SCRIPT.toString(), "--dir", SET.toString());
        int cases = GoldenSet.load(SET).cases().size();
        assertThat(r.output()).contains("numpy cross-check: " + cases + " passed, 0 failed");
        assertThat(r.exitCode()).as(r.output()).isZero();
    }

    @Test
    void numpyNoticesAWrongReference() throws Exception {
        Files.copy(SET.resolve(GoldenGenerator.MANIFEST), tmp.resolve(GoldenGenerator.MANIFEST));
        try (Stream<Path> s = Files.walk(SET.resolve("cases"))) {
            for (Path p : s.toList()) {
                Files.copy(p, tmp.resolve(SET.relativize(p).toString()));
            }
        }
        Path dk = tmp.resolve("cases/causal_gqa_d59/dk.npy");
        double[] x = Npy.read(dk).toDoubleArray();
        x[x.length / 2] *= 1 + 1e-8;
        Npy.write(dk, new long[] {1, 2, 100, 59}, x);
        // the sinks' gradient of the first head of a GQA group given to both heads of the group
        Path dsinks = tmp.resolve("cases/sinks_grad_gqa_batch/dsinks.npy");
        double[] g = Npy.read(dsinks).toDoubleArray();
        g[1] = g[0];
        Npy.write(dsinks, new long[] {4}, g);
        Run r = run(PYTHON.toString(), SCRIPT.toString(), "--dir", tmp.toString(), "--quiet");
        assertThat(r.exitCode()).as(r.output()).isEqualTo(1);
        assertThat(r.output()).contains("FAIL causal_gqa_d59").contains("FAIL sinks_grad_gqa_batch")
                .contains("passed, 2 failed");
    }

    private static Run run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(List.of(command)).redirectErrorStream(true).start();
        p.getOutputStream().close();
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("timed out: " + String.join(" ", command));
        }
        return new Run(p.exitValue(), new String(out, StandardCharsets.UTF_8));
    }
}
