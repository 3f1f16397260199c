package org.ringattention.mpi;

import static org.assertj.core.api.Assertions.assertThat;

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
 * Faults of one rank of three end the whole job within a few seconds with a non-zero exit, one
 * line naming the rank and step, no rank process left and no result written: a task that throws,
 * a rank that hangs (noticed by the stall timeout), a rank killed with SIGKILL. Skipped when Open
 * MPI is not installed.
 */
class MpiFaultTest {

    private static final RingCase CASE = new RingCase(1, 2, 1, 60, 8, true, 0, false, Layout.ZIGZAG, 8, 8, true, 9);
    private static final double FEW_SECONDS = 5;

    @TempDir
    Path dir;

    @BeforeAll
    static void needsMpi() {
        MpiRun.assumeMpi();
    }

    @Test
    @Timeout(120)
    void aThrowingTaskEndsTheJob() throws Exception {
        MpiRun.Result r = MpiRun.run(3, "vader", 90, List.of("-Dmpi.test.fault=throw:1:1"), RankMain.class,
                List.of(dir.toString(), "1", CASE.token()));
        assertEndedQuickly(r, "ring-attention: rank 1: device 1 failed at step 1: injected fault");
    }

    @Test
    @Timeout(120)
    void aHangingRankIsNoticedByTheStallTimeout() throws Exception {
        // The stall timeout must exceed the longest task: the first tasks run before the JIT compiled them.
        MpiRun.Result r = MpiRun.run(3, "vader", 90, List.of("-Dmpi.test.fault=hang:1:1", "-Dmpi.test.stall=5"),
                RankMain.class, List.of(dir.toString(), "1", CASE.token()));
        // rank 1 itself (its tasks hang) or a neighbour waiting for it, at the step that neighbour is at
        assertThat(r.output()).as("output").containsPattern("rank 1: device 1 stalled \\(nothing happened for 5 s;"
                + " waiting for its tasks\\) at step 1|rank [02]: device [02] stalled \\(nothing happened for 5 s;"
                + " waiting for (the shard from rank 1|a free buffer at rank 1)\\) at step [01]");
        assertEndedQuickly(r, "stalled", 5);
    }

    @Test
    @Timeout(120)
    void aKilledRankEndsTheOthers() throws Exception {
        MpiRun.Running job = MpiRun.start(3, "vader", List.of("-Dmpi.test.fault=pause:1:1"), RankMain.class,
                List.of(dir.toString(), "1", CASE.token()));
        Path paused = dir.resolve("paused-rank1");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(paused) && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        assertThat(paused).as("rank 1 reached step 1").exists();
        long pid = Long.parseLong(Files.readString(dir.resolve("pid-rank1")).trim());
        ProcessHandle rank1 = ProcessHandle.of(pid).orElseThrow();
        assertThat(rank1.destroyForcibly()).as("SIGKILL sent").isTrue(); // SIGKILL on Linux
        MpiRun.Result r = job.await(60);
        // mpirun names the killed rank; the survivors' own lines (MpiRing's shutdown hook, "rank 0 stopped
        // at step 1 of run 0 ...") get through only while mpirun still forwards their output
        assertEndedQuickly(r, "mpirun noticed that process rank 1 with PID");
        assertThat(r.output()).as("output").contains("exited on signal 9");
    }

    private void assertEndedQuickly(MpiRun.Result r, String line) throws Exception {
        assertEndedQuickly(r, line, 0);
    }

    /** Non-zero exit, the line, within a few seconds (plus {@code allowance}) of the fault, no rank left, no result. */
    private void assertEndedQuickly(MpiRun.Result r, String line, double allowance) throws Exception {
        long end = System.currentTimeMillis();
        assertThat(r.timedOut()).as("timed out; output:%n%s", r.output()).isFalse();
        assertThat(r.exitCode()).as("exit code; output:%n%s", r.output()).isNotZero();
        assertThat(r.output()).as("output").contains(line);
        long faultAt = Long.parseLong(Files.readString(dir.resolve("fault-rank1")).trim());
        assertThat((end - faultAt) / 1e3).as("seconds from the fault to the end; output:%n%s", r.output())
                .isLessThan(FEW_SECONDS + allowance);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
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

    private static boolean sleep() throws InterruptedException {
        Thread.sleep(100);
        return true;
    }
}
