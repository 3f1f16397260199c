package org.ringattention.model;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.ringattention.tensor.Npy;

/**
 * Runs the independent NumPy LlamaForCausalLM (src/test/python/llama_reference.py) of the model
 * module: /usr/bin/python3 when it has NumPy (.ci/run installs python3-numpy), else python3 on the
 * PATH; tests that need it are skipped when neither has NumPy.
 */
public final class NumpyReference {

    /** The script, relative to the model module (tests run there) or to the repository root. */
    public static Path script() {
        for (Path p : List.of(Path.of("src/test/python/llama_reference.py"),
                Path.of("../model/src/test/python/llama_reference.py"),
                Path.of("model/src/test/python/llama_reference.py"))) {
            if (Files.exists(p)) {
                return p.toAbsolutePath();
            }
        }
        throw new IllegalStateException("llama_reference.py not found from " + Path.of("").toAbsolutePath());
    }

    /** A Python with NumPy, or null. */
    public static String python() {
        for (String py : List.of("/usr/bin/python3", "python3")) {
            try {
                Process p = new ProcessBuilder(py, "-c", "import numpy").redirectErrorStream(true).start();
                p.getInputStream().readAllBytes();
                if (p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0) {
                    return py;
                }
            } catch (IOException e) {
                // not installed: try the next
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return null;
            }
        }
        return null;
    }

    /** float64 logits [B, N, V] of the model in {@code dir} on {@code tokens.npy}. */
    public static double[] logits(String python, Path dir, Path tokens, Path work) throws IOException,
            InterruptedException {
        Path out = work.resolve("reference-logits.npy");
        Process p = new ProcessBuilder(python, script().toString(), dir.toString(), tokens.toString(), out.toString())
                .redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(300, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new IllegalStateException("llama_reference.py failed: " + log);
        }
        return Npy.read(out).toDoubleArray();
    }
}
