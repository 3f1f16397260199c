package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.tensor.Npy;

/**
 * The streaming path of attend: the heap path's bits, nothing left behind, interruption by a
 * signal (a child JVM killed part-way) and resumption to the bits of an uninterrupted run, and
 * checkpoints that do not match refused.
 */
class StreamedAttendTest {

    private static final int N = 1536;
    private static final int D = 16;

    @TempDir
    Path dir;

    @BeforeEach
    void writeInputs() throws IOException {
        long[] shape = {1, 2, N, D};
        Npy.write(dir.resolve("q.npy"), shape, CliRun.random(2 * N * D, 1));
        Npy.write(dir.resolve("k.npy"), shape, CliRun.random(2 * N * D, 2));
        Npy.write(dir.resolve("v.npy"), shape, CliRun.random(2 * N * D, 3));
    }

    private String[] args(String out, String lse, String... more) {
        return argsWithBlockQ(32, out, lse, more);
    }

    private String[] argsWithBlockQ(int blockQ, String out, String lse, String... more) {
        return CliRun.concat(new String[] {"attend", "--q", p("q.npy"), "--k", p("k.npy"), "--v", p("v.npy"),
            "--out", p(out), "--lse", p(lse), "--causal", "--block-q", String.valueOf(blockQ), "--block-kv", "64",
            "--threads", "2"}, more);
    }

    @Test
    void streamingGivesTheHeapPathsBitsAndLeavesNothingBehind() throws IOException {
        CliRun heap = CliRun.of(args("o1.npy", "l1.npy", "--no-stream"));
        assertThat(heap.code()).as(heap.err()).isZero();
        CliRun streamed = CliRun.of(args("o2.npy", "l2.npy", "--chunk", "384"));
        assertThat(streamed.code()).as(streamed.err()).isZero();
        assertThat(streamed.err()).contains("streaming path").contains("4 query chunks");
        assertThat(Files.readAllBytes(dir.resolve("o2.npy"))).isEqualTo(Files.readAllBytes(dir.resolve("o1.npy")));
        assertThat(Files.readAllBytes(dir.resolve("l2.npy"))).isEqualTo(Files.readAllBytes(dir.resolve("l1.npy")));
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()))
                    .containsExactlyInAnyOrder("q.npy", "k.npy", "v.npy", "o1.npy", "l1.npy", "o2.npy", "l2.npy");
        }
    }

    @Test
    void optionsTheStreamingPathCannotRunAreRefused() {
        CliRun.of(CliRun.concat(args("o.npy", "l.npy", "--stream"), "--precision", "float64"))
                .assertOneLineError(2, "--stream", "--precision float64");
        CliRun.of(args("o.npy", "l.npy", "--chunk", "100")).assertOneLineError(2, "--chunk must be a positive"
                + " multiple of 128");
    }

    @Test
    void aRunKilledPartWayResumesToTheBitsOfAnUninterruptedRun() throws Exception {
        byte[] before = "an existing file that must survive".getBytes();
        Files.write(dir.resolve("o.npy"), before);
        String java = ProcessHandle.current().info().command().orElse("java");
        // the child sleeps 3 s after each key/value chunk: a stop that waited for the computation to
        // unwind would take that long, or (cut short) not say what the checkpoint keeps
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-D" + StreamedAttend.DELAY_PROPERTY + "=3000", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args("o.npy", "l.npy", "--chunk", "128")));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        Path cp = dir.resolve("o.npy.checkpoint");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (done(cp) < 1) { // part-way: one of twelve query chunks (78 key/value chunks in all)
            assertThat(proc.isAlive()).as(Files.readString(dir.resolve("child.log"))).isTrue();
            assertThat(System.nanoTime()).as("the child's progress").isLessThan(deadline);
            Thread.sleep(20);
        }
        long killed = System.nanoTime();
        proc.destroy(); // SIGTERM
        assertThat(proc.waitFor(30, TimeUnit.SECONDS)).isTrue();
        double seconds = (System.nanoTime() - killed) / 1e9;
        String log = Files.readString(dir.resolve("child.log"));
        assertThat(proc.exitValue()).as(log).isEqualTo(143);
        assertThat(seconds).as("seconds from SIGTERM to exit; %s", log).isLessThan(3.0);
        assertThat(log).contains("--resume");
        assertThat(Files.readAllBytes(dir.resolve("o.npy"))).as("the existing target").isEqualTo(before);
        assertThat(dir.resolve("l.npy")).doesNotExist();
        assertThat(dir.resolve("o.npy.partial")).exists();
        assertThat(dir.resolve("o.npy.checkpoint.tmp")).doesNotExist();
        int finished = done(cp);
        assertThat(finished).isBetween(1, 11);
        assertThat(log).as("the stop reports what the checkpoint keeps").contains("stopped after " + finished
                + " of 12 query chunks");

        // a checkpoint that does not match is refused, and kept
        CliRun.of(argsWithBlockQ(64, "o.npy", "l.npy", "--resume"))
                .assertOneLineError(1, "does not match", "blocks 64x64");
        Path k = dir.resolve("k.npy");
        FileTime mtime = Files.getLastModifiedTime(k);
        Files.setLastModifiedTime(k, FileTime.fromMillis(mtime.toMillis() + 5000));
        CliRun.of(args("o.npy", "l.npy", "--resume")).assertOneLineError(1, "does not match", "k.npy changed");
        Files.setLastModifiedTime(k, mtime);
        assertThat(done(cp)).isEqualTo(finished);

        CliRun resumed = CliRun.of(args("o.npy", "l.npy", "--resume"));
        assertThat(resumed.code()).as(resumed.err()).isZero();
        assertThat(resumed.err()).contains("resuming at query chunk " + (finished + 1));
        CliRun whole = CliRun.of(args("o2.npy", "l2.npy", "--chunk", "128"));
        assertThat(whole.code()).as(whole.err()).isZero();
        assertThat(Files.readAllBytes(dir.resolve("o.npy"))).isEqualTo(Files.readAllBytes(dir.resolve("o2.npy")));
        assertThat(Files.readAllBytes(dir.resolve("l.npy"))).isEqualTo(Files.readAllBytes(dir.resolve("l2.npy")));
        assertThat(cp).doesNotExist();
        assertThat(dir.resolve("o.npy.partial")).doesNotExist();
    }

    /** Query chunks a checkpoint records as done, 0 while there is none. */
    private static int done(Path checkpoint) throws IOException {
        try {
            Checkpoint c = Checkpoint.read(checkpoint);
            return c == null ? 0 : c.done();
        } catch (CliException e) {
            return 0; // being replaced
        }
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }
}
