package org.ringattention.mpi;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.ring.Layout;

/**
 * Faults of one rank of three end the whole job with a non-zero exit, one line naming the rank and
 * step, no rank process left and no result written: a task that throws, a rank that hangs (noticed
 * by the stall timeout), a rank killed with SIGKILL. Skipped when Open MPI is not installed.
 *
 * <p>No assertion reads the wall clock, so a loaded or stopped machine cannot fail them: that the
 * job ended by the fault's own path (the abort, the 5 s stall as the rank reports it, mpirun's
 * notice of the kill) and not by the 30 s stall timeout or the hang guards is shown by the line
 * it printed. The seconds from the fault to the end of the job (issue 19's target: 5 s) are
 * measured and reported, to stdout and {@code target/mpi-fault-detection.csv}, not asserted.
 */
class MpiFaultTest {

    private static final RingCase CASE = new RingCase(1, 2, 1, 60, 8, true, 0, false, Layout.ZIGZAG, 8, 8, true, 9);
    private static final Path REPORT = Path.of("target", "mpi-fault-detection.csv");

    @TempDir
    Path dir;

    @BeforeAll
    static void needsMpi() throws IOException {
        MpiRun.assumeMpi();
        Files.createDirectories(REPORT.getParent());
        Files.writeString(REPORT, "fault,seconds_from_fault_to_end_of_job,target_seconds\n");
    }

    @Test
    @Timeout(300)
    void aThrowingTaskEndsTheJob() throws Exception {
        MpiRun.Result r = MpiRun.run(3, "vader", MpiRun.GUARD_SECONDS, List.of("-Dmpi.test.fault=throw:1:1"),
                RankMain.class, List.of(dir.toString(), "1", CASE.token()));
        assertEndedByTheFault(r, "throw", "ring-attention: rank 1: device 1 failed at step 1: injected fault");
        assertThat(r.output()).as("ended by the abort, not a stall timeout").doesNotContain("stalled");
    }

    @Test
    @Timeout(300)
    void aHangingRankIsNoticedByTheStallTimeout() throws Exception {
        // The stall timeout must exceed the longest task: the first tasks run before the JIT compiled them.
        MpiRun.Result r = MpiRun.run(3, "vader", MpiRun.GUARD_SECONDS, List.of("-Dmpi.test.fault=hang:1:1",
                "-Dmpi.test.stall=5"), RankMain.class, List.of(dir.toString(), "1", CASE.token()));
        // rank 1 itself (its tasks hang) or a neighbour waiting for it, at the step that neighbour is at;
        // the 5 s is the rank's own count of time it was awake, so the message holds on a stopped machine
        assertThat(r.output()).as("output").containsPattern("rank 1: device 1 stalled \\(nothing happened for 5 s;"
                + " waiting for its tasks\\) at step 1|rank [02]: device [02] stalled \\(nothing happened for 5 s;"
                + " waiting for (the shard from rank 1|a free buffer at rank 1)\\) at step [01]");
        assertEndedByTheFault(r, "hang", "stalled");
    }

    @Test
    @Timeout(300)
    void aKilledRankEndsTheOthers() throws Exception {
        // no stall timeout to speak of: the survivors must wait however long this JVM takes to kill rank 1
        // (it may be stopped meanwhile), and only mpirun's notice of the kill may end them
        MpiRun.Running job = MpiRun.start(3, "vader", List.of("-Dmpi.test.fault=pause:1:1", "-Dmpi.test.stall=3600"),
                RankMain.class, List.of(dir.toString(), "1", CASE.token()));
        MpiRun.Result r;
        try {
            Path paused = dir.resolve("paused-rank1");
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MpiRun.GUARD_SECONDS);
            while (!Files.exists(paused) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertThat(paused).as("rank 1 reached step 1").exists();
            long pid = Long.parseLong(Files.readString(dir.resolve("pid-rank1")).trim());
            ProcessHandle rank1 = ProcessHandle.of(pid).orElseThrow();
            assertThat(rank1.destroyForcibly()).as("SIGKILL sent").isTrue(); // SIGKILL on Linux
            r = job.await(MpiRun.GUARD_SECONDS);
        } finally {
            job.kill();
        }
        // mpirun names the killed rank; the survivors' own lines (MpiRing's shutdown hook, "rank 0 stopped
        // at step 1 of run 0 ...") get through only while mpirun still forwards their output
        assertEndedByTheFault(r, "kill", "mpirun noticed that process rank 1 with PID");
        assertThat(r.output()).as("output").contains("exited on signal 9");
        assertThat(r.output()).as("ended by mpirun, not the survivors' stall timeout").doesNotContain("stalled");
    }

    /**
     * Non-zero exit before the hang guard, the line, no rank left, no result; reports the seconds
     * from the fault to the end of the job.
     */
    private void assertEndedByTheFault(MpiRun.Result r, String fault, String line) throws Exception {
        long end = System.currentTimeMillis();
        assertThat(r.timedOut()).as("timed out; output:%n%s", r.output()).isFalse();
        assertThat(r.exitCode()).as("exit code; output:%n%s", r.output()).isNotZero();
        assertThat(r.output()).as("output").contains(line);
        long faultAt = Long.parseLong(Files.readString(dir.resolve("fault-rank1")).trim());
        report(fault, (end - faultAt) / 1e3);
        // mpirun reaps its ranks before it exits; the wait is bounded only in case one escaped it
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(MpiRun.GUARD_SECONDS);
        List<ProcessHandle> left;
        do {
            left = ProcessHandle.allProcesses()
                    .filter(p -> p.info().commandLine().orElse("").contains(dir.toString()))
                    .filter(ProcessHandle::isAlive)
                    .toList();
        } while (!left.isEmpty() && System.nanoTime() < deadline && sleep());
        assertThat(left).as("rank processes left").isEmpty();
        try (var files = Files.list(dir)) {
            assertThat(files.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".bin")).toList())
                    .as("results written").isEmpty();
        }
    }

    /** The measurement behind issue 19's "faults detected within 5 s": a report, not a test. */
    private static void report(String fault, double seconds) throws IOException {
        System.out.printf("MpiFaultTest: %s: the job ended %.2f s after the fault (target 5 s; reported,"
                + " not asserted)%n", fault, seconds);
        Files.writeString(REPORT, String.format(java.util.Locale.ROOT, "%s,%.3f,5%n", fault, seconds),
                java.nio.file.StandardOpenOption.APPEND);
    }

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(100);
        return true;
    }
}
