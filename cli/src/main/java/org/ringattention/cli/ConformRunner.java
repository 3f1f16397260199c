package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * Runs the implementation under test once for a case: {@code sh -c COMMAND} with {@code {case}}
 * replaced by the case directory (quoted for the shell), in the current directory, stdout and
 * stderr captured to stdout.txt and stderr.txt in the case directory. A run that outlives the
 * time-out is killed with its whole process tree.
 */
final class ConformRunner {

    static final String PLACEHOLDER = "{case}";

    /** How a run ended: its exit code (−1 when it timed out) and how long it took. */
    record Outcome(int exitCode, boolean timedOut, double seconds) {
    }

    private final String command;
    private final double timeoutSeconds;

    ConformRunner(String command, double timeoutSeconds) {
        this.command = command;
        this.timeoutSeconds = timeoutSeconds;
    }

    /** The shell command for {@code dir}. */
    String commandFor(Path dir) {
        return command.replace(PLACEHOLDER, shellQuote(dir.toAbsolutePath().toString()));
    }

    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    Outcome run(Path dir) throws IOException {
        ProcessBuilder pb = new ProcessBuilder("sh", "-c", commandFor(dir));
        pb.redirectOutput(dir.resolve("stdout.txt").toFile());
        pb.redirectError(dir.resolve("stderr.txt").toFile());
        pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        long start = System.nanoTime();
        Process p = pb.start();
        try {
            boolean done = p.waitFor((long) (timeoutSeconds * 1e9), TimeUnit.NANOSECONDS);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (!done) {
                p.descendants().forEach(ProcessHandle::destroyForcibly);
                p.destroyForcibly();
                p.waitFor(5, TimeUnit.SECONDS);
                return new Outcome(-1, true, seconds);
            }
            return new Outcome(p.exitValue(), false, seconds);
        } catch (InterruptedException e) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running the implementation", e);
        }
    }
}
