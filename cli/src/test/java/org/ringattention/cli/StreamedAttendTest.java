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

    /** attend on q [1, hq, n, d], k and v [1, hkv, nk, d] with dO, each path's files named with {@code tag}. */
    private String[] gradientArgs(String tag, String... more) {
        return CliRun.concat(new String[] {"attend", "--q", p("gq.npy"), "--k", p("gk.npy"), "--v", p("gv.npy"),
            "--do", p("gdo.npy"), "--out", p("o" + tag + ".npy"), "--dq", p("dq" + tag + ".npy"), "--dk",
            p("dk" + tag + ".npy"), "--dv", p("dv" + tag + ".npy"), "--threads", "2"}, more);
    }

    private void writeGradientInputs(int hq, int hkv, int n, int nk, int d) throws IOException {
        Npy.write(dir.resolve("gq.npy"), new long[] {1, hq, n, d}, CliRun.random(hq * n * d, 11));
        Npy.write(dir.resolve("gk.npy"), new long[] {1, hkv, nk, d}, CliRun.random(hkv * nk * d, 12));
        Npy.write(dir.resolve("gv.npy"), new long[] {1, hkv, nk, d}, CliRun.random(hkv * nk * d, 13));
        Npy.write(dir.resolve("gdo.npy"), new long[] {1, hq, n, d}, CliRun.random(hq * n * d, 14));
    }

    private void assertSameFiles(String a, String b, String... names) throws IOException {
        for (String name : names) {
            assertThat(Files.readAllBytes(dir.resolve(name + b + ".npy"))).as(name)
                    .isEqualTo(Files.readAllBytes(dir.resolve(name + a + ".npy")));
        }
    }

    @Test
    void streamedGradientsHaveTheHeapPathsBitsAndLeaveNothingBehind() throws IOException {
        // GQA (4 query heads on 2), causal, tails: N = 97, d = 59, blocks 32 x 48 that do not divide N
        writeGradientInputs(4, 2, 97, 97, 59);
        for (String[] mask : new String[][] {{"--causal"}, {"--window", "40"}, {}}) {
            String[] blocks = CliRun.concat(mask, "--block-q", "32", "--block-kv", "48");
            CliRun heap = CliRun.of(CliRun.concat(gradientArgs("1", "--no-stream", "--lse", p("l1.npy")), blocks));
            assertThat(heap.code()).as(heap.err()).isZero();
            CliRun streamed = CliRun.of(CliRun.concat(gradientArgs("2", "--stream", "--lse", p("l2.npy")), blocks));
            assertThat(streamed.code()).as(streamed.err()).isZero();
            assertThat(streamed.err()).contains("streaming path with gradients").contains("with gradients in");
            assertSameFiles("1", "2", "o", "l", "dq", "dk", "dv");
        }
        // several query and key/value chunks (N = 700 with chunks of 128), no --lse: its temporary file goes
        writeGradientInputs(4, 2, 700, 700, 16);
        String[] blocks = {"--causal", "--block-q", "64", "--block-kv", "32"};
        CliRun heap = CliRun.of(CliRun.concat(gradientArgs("3", "--no-stream"), blocks));
        assertThat(heap.code()).as(heap.err()).isZero();
        CliRun streamed = CliRun.of(CliRun.concat(gradientArgs("4", "--chunk", "128"), blocks));
        assertThat(streamed.code()).as(streamed.err()).isZero();
        assertThat(streamed.err()).contains("6 query chunks forward, 12 backward");
        assertSameFiles("3", "4", "o", "dq", "dk", "dv");
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).filter(f -> f.contains("partial")
                    || f.contains("checkpoint") || f.startsWith("l4"))).isEmpty();
        }
    }

    @Test
    void aStreamedGradientRunThatFailsLeavesNoFileAndTheTargetsAsTheyWere() throws IOException {
        writeGradientInputs(2, 2, 300, 300, 8);
        float[] dOut = CliRun.random(2 * 300 * 8, 14);
        dOut[2 * 300 * 8 - 3] = Float.NaN;
        Npy.write(dir.resolve("gdo.npy"), new long[] {1, 2, 300, 8}, dOut);
        byte[] before = "an existing dK".getBytes();
        Files.write(dir.resolve("dkx.npy"), before);
        CliRun.of(gradientArgs("x", "--stream", "--chunk", "128", "--block-q", "32", "--block-kv", "32"))
                .assertOneLineError(1, "gdo.npy", "dO contains a non-finite value at [0, 1, 299, 5]");
        // a failure inside the run (here k: the forward pass finds it) deletes what the run created
        float[] k = CliRun.random(2 * 300 * 8, 12);
        k[300 * 8 + 7] = Float.POSITIVE_INFINITY;
        Npy.write(dir.resolve("gk.npy"), new long[] {1, 2, 300, 8}, k);
        Npy.write(dir.resolve("gdo.npy"), new long[] {1, 2, 300, 8}, CliRun.random(2 * 300 * 8, 14));
        CliRun.of(gradientArgs("x", "--stream", "--quiet", "--chunk", "128", "--block-q", "32", "--block-kv", "32"))
                .assertOneLineError(1, "k contains a non-finite value at [0, 1, 0, 7]");
        assertThat(Files.readAllBytes(dir.resolve("dkx.npy"))).isEqualTo(before);
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()))
                    .containsExactlyInAnyOrder("q.npy", "k.npy", "v.npy", "gq.npy", "gk.npy", "gv.npy", "gdo.npy",
                            "dkx.npy");
        }
        CliRun.of(gradientArgs("x", "--resume")).assertOneLineError(2, "--resume", "keeps no checkpoint");
        CliRun.of(gradientArgs("x", "--stream", "--sinks", p("gq.npy"), "--dsinks", p("ds.npy")))
                .assertOneLineError(2, "--dsinks");
    }

    @Test
    void gradientsOfInputsLargerThanTheHeapRunInABoundedHeap() throws Exception {
        // q, k, v, dO of 8 MiB each and five outputs as large, in a child JVM with a 32 MiB heap: the
        // heap path would need five times that. A sliding window keeps the work to seconds; chunks of
        // 4,096 rows keep every array below half a G1 region (humongous arrays fragment a small heap).
        int n = 131_072;
        writeGradientInputs(1, 1, n, n, 16);
        String[] mask = {"--causal", "--window", "128", "--block-q", "64", "--block-kv", "64", "--quiet"};
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx32m", "--add-modules", "jdk.incubator.vector", "-cp",
                System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(List.of(CliRun.concat(gradientArgs("s", "--lse", p("ls.npy"), "--chunk", "4096"), mask)));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        assertThat(proc.waitFor(300, TimeUnit.SECONDS)).isTrue();
        assertThat(proc.exitValue()).as(Files.readString(dir.resolve("child.log"))).isZero();
        CliRun heap = CliRun.of(CliRun.concat(gradientArgs("h", "--no-stream", "--lse", p("lh.npy")), mask));
        assertThat(heap.code()).as(heap.err()).isZero();
        assertSameFiles("h", "s", "o", "l", "dq", "dk", "dv");
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
        // the child holds in the first key/value chunk of its second query chunk until the JVM exits: a
        // stop that waited for the computation to unwind would never end (the bounded waits below are
        // hang guards, not speed limits), and the stop must say the checkpoint keeps exactly one chunk
        List<String> cmd = new ArrayList<>(List.of(java, "--add-modules", "jdk.incubator.vector",
                "-D" + StreamedAttend.HOLD_PROPERTY + "=1", "-cp", System.getProperty("java.class.path"),
                Main.class.getName()));
        cmd.addAll(List.of(args("o.npy", "l.npy", "--chunk", "128")));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve("child.log").toFile()).start();
        Path cp = dir.resolve("o.npy.checkpoint");
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(180);
            while (done(cp) < 1) { // part-way: one of twelve query chunks (78 key/value chunks in all)
                assertThat(proc.isAlive()).as(Files.readString(dir.resolve("child.log"))).isTrue();
                assertThat(System.nanoTime()).as("hang guard: the child's first chunk").isLessThan(deadline);
                Thread.sleep(20);
            }
            proc.destroy(); // SIGTERM
            assertThat(proc.waitFor(120, TimeUnit.SECONDS)).as("hang guard: the child ended after SIGTERM")
                    .isTrue();
        } finally {
            proc.destroyForcibly();
        }
        String log = Files.readString(dir.resolve("child.log"));
        assertThat(proc.exitValue()).as(log).isEqualTo(143);
        assertThat(log).contains("--resume");
        assertThat(Files.readAllBytes(dir.resolve("o.npy"))).as("the existing target").isEqualTo(before);
        assertThat(dir.resolve("l.npy")).doesNotExist();
        assertThat(dir.resolve("o.npy.partial")).exists();
        assertThat(dir.resolve("o.npy.checkpoint.tmp")).doesNotExist();
        int finished = done(cp);
        assertThat(finished).as("the chunk before the hold").isEqualTo(1);
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
