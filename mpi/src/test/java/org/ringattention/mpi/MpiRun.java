package org.ringattention.mpi;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Launches {@code mpirun -np P java ... <main> <args>} on this machine from a test, with the test's
 * class path and JDK, and collects its exit code and output. Tests that need it call
 * {@link #assumeMpi} first: without mpirun or libmpi.so.40 they are skipped, saying so.
 */
final class MpiRun {

    /** What a finished (or killed) mpirun left. */
    record Result(int exitCode, String output, double seconds, boolean timedOut) {
    }

    /**
     * How long a test lets mpirun run before it kills the job as hung: the jobs take seconds, this
     * leaves room for a loaded machine and a JVM stopped for a minute or two. A hang guard, not a
     * speed limit; tests give JUnit's {@code @Timeout} more than this.
     */
    static final int GUARD_SECONDS = 180;

    private MpiRun() {
    }

    /** Skips the calling test unless mpirun and libmpi.so.40 are installed. */
    static void assumeMpi() {
        assumeTrue(mpirun() != null, "mpirun not found on PATH: install Open MPI (apt-get install openmpi-bin"
                + " libopenmpi-dev) to run the MPI tests");
        assumeTrue(Mpi.available(), Mpi.LIBRARY + " not found: install Open MPI (apt-get install openmpi-bin"
                + " libopenmpi-dev) to run the MPI tests");
    }

    static String mpirun() {
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(File.pathSeparator)) {
            Path p = Path.of(dir, "mpirun");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /**
     * Runs {@code main} on {@code ranks} ranks over {@code btl} ("vader" shared memory or "tcp"),
     * killing it after {@code timeoutSeconds}.
     */
    static Result run(int ranks, String btl, int timeoutSeconds, List<String> jvmOptions, Class<?> main,
            List<String> args) throws IOException, InterruptedException {
        return start(ranks, btl, jvmOptions, main, args).await(timeoutSeconds);
    }

    /** An mpirun under way. */
    static final class Running {
        private final Process process;
        private final Path log;
        private final long start = System.nanoTime();

        Running(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        /** Waits for the end, killing mpirun and its ranks after {@code timeoutSeconds}. */
        Result await(int timeoutSeconds) throws IOException, InterruptedException {
            boolean done = process.waitFor(timeoutSeconds, TimeUnit.SECONDS);
            if (!done) {
                kill();
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            String out = Files.readString(log, StandardCharsets.UTF_8);
            Files.deleteIfExists(log);
            return new Result(done ? process.exitValue() : -1, out, seconds, !done);
        }

        /** Kills mpirun and its ranks if they still run (a test that failed before the job ended). */
        void kill() throws InterruptedException {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            process.destroyForcibly();
            process.waitFor(10, TimeUnit.SECONDS);
        }
    }

    static Running start(int ranks, String btl, List<String> jvmOptions, Class<?> main, List<String> args)
            throws IOException {
        List<String> cmd = new ArrayList<>(List.of(mpirun(), "-np", String.valueOf(ranks), "--oversubscribe",
                "--allow-run-as-root", "--mca", "btl", "self," + btl, "--bind-to", "none"));
        if (btl.equals("tcp")) {
            cmd.addAll(List.of("--mca", "btl_tcp_if_include", "lo"));
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(List.of("--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-Xmx256m", "-Xss4m", "-cp", classPath()));
        cmd.addAll(jvmOptions);
        cmd.add(main.getName());
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("OMPI_MCA_mpi_yield_when_idle", "1");
        Path log = Files.createTempFile("mpirun", ".log");
        pb.redirectOutput(log.toFile());
        return new Running(pb.start(), log);
    }

    /** The test class path (surefire passes it as a property when it runs from a manifest-only jar). */
    static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }
}
