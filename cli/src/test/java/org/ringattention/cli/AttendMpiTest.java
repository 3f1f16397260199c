package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.mpi.Mpi;
import org.ringattention.tensor.Npy;

/**
 * {@code mpirun -np 2 ... attend --mpi} writes the same files, byte for byte, as {@code attend
 * --devices 2} in one process (with the kit's score rules and packed sequences too); a rank that fails leaves existing outputs as they were and no
 * temporary file behind. Skipped without Open MPI.
 */
class AttendMpiTest {

    @TempDir
    Path dir;

    @BeforeAll
    static void needsMpi() {
        assumeTrue(Mpi.available() && Files.isExecutable(Path.of("/usr/bin/mpirun")),
                "Open MPI not installed (apt-get install openmpi-bin libopenmpi-dev): skipping attend --mpi");
    }

    @Test
    @Timeout(300)
    void ranksWriteTheFilesTheInProcessRingWrites() throws Exception {
        inputs(false);
        String[] common = {"attend", "--q", p("q"), "--k", p("k"), "--v", p("v"), "--do", p("do"), "--window", "7",
            "--layout", "striped", "--threads", "1", "--block-q", "8", "--block-kv", "16", "--quiet"};
        sameFilesAsTheInProcessRing(2, common);
    }

    /** The kit's score rules under --mpi: every rank parses them and runs the in-process ring's device code. */
    @Test
    @Timeout(300)
    void ranksRunSinksSoftcapAlibiMaskAndBiasAsTheInProcessRing() throws Exception {
        int b = 2;
        int nq = 37;
        int nk = 50;
        int d = 8;
        randomInputs(b, 4, 2, nq, nk, d, 11);
        Npy.write(dir.resolve("alibi.npy"), new long[] {4}, new float[] {0.5f, 0.25f, 0.125f, 0.0625f});
        Npy.write(dir.resolve("sinks.npy"), new long[] {4}, new float[] {0.3f, -1f, 1.5f, 0f});
        boolean[] keep = new boolean[b * nq * nk];
        float[] coin = CliRun.random(keep.length, 15);
        for (int i = 0; i < keep.length; i++) {
            keep[i] = coin[i] > -0.8f;
        }
        Npy.writeBool(dir.resolve("mask.npy"), new long[] {b, 1, nq, nk}, keep);
        Npy.write(dir.resolve("bias.npy"), new long[] {1, 4, nq, nk}, CliRun.random(4 * nq * nk, 16));
        String[] common = {"attend", "--q", p("q"), "--k", p("k"), "--v", p("v"), "--do", p("do"), "--causal",
            "--causal-align", "top-left", "--softcap", "2.5", "--alibi", p("alibi"), "--sinks", p("sinks"), "--mask",
            p("mask"), "--bias", p("bias"), "--layout", "zigzag", "--threads", "1", "--block-q", "8", "--block-kv", "8",
            "--quiet"};
        sameFilesAsTheInProcessRing(2, common);
    }

    /** Packed sequences under --mpi, each rank holding rows of several sequences. */
    @Test
    @Timeout(300)
    void ranksRunPackedSequencesAsTheInProcessRing() throws Exception {
        int nq = 41;
        int nk = 45;
        int d = 8;
        randomInputs(1, 2, 1, nq, nk, d, 21);
        Npy.writeInt32(dir.resolve("cq.npy"), new long[] {4}, new int[] {0, 10, 10, 41});
        Npy.writeInt64(dir.resolve("ck.npy"), new long[] {4}, new long[] {0, 15, 30, 45});
        String[] common = {"attend", "--q", p("q"), "--k", p("k"), "--v", p("v"), "--do", p("do"), "--cu-seqlens-q",
            p("cq"), "--cu-seqlens-k", p("ck"), "--window-left", "4", "--window-right", "1", "--layout", "striped",
            "--threads", "1", "--block-q", "4", "--block-kv", "8", "--quiet"};
        sameFilesAsTheInProcessRing(3, common);
    }

    /** Random q, dO [b, hq, nq, d] and k, v [b, hkv, nk, d], from seeds seed .. seed + 3. */
    private void randomInputs(int b, int hq, int hkv, int nq, int nk, int d, long seed) throws Exception {
        Npy.write(dir.resolve("q.npy"), new long[] {b, hq, nq, d}, CliRun.random(b * hq * nq * d, seed));
        Npy.write(dir.resolve("k.npy"), new long[] {b, hkv, nk, d}, CliRun.random(b * hkv * nk * d, seed + 1));
        Npy.write(dir.resolve("v.npy"), new long[] {b, hkv, nk, d}, CliRun.random(b * hkv * nk * d, seed + 2));
        Npy.write(dir.resolve("do.npy"), new long[] {b, hq, nq, d}, CliRun.random(b * hq * nq * d, seed + 3));
    }

    /** {@code mpirun -np ranks ... --mpi} and {@code --devices ranks} in one process write the same bytes. */
    private void sameFilesAsTheInProcessRing(int ranks, String[] common) throws Exception {
        String[] mpiOuts = {"--out", p("o"), "--lse", p("lse"), "--dq", p("dq"), "--dk", p("dk"), "--dv", p("dv")};
        String[] oneOuts = {"--out", p("o1"), "--lse", p("lse1"), "--dq", p("dq1"), "--dk", p("dk1"), "--dv", p("dv1")};
        Result r = mpirun(ranks, CliRun.concat(CliRun.concat(common, mpiOuts), "--mpi"));
        assertThat(r.code).as("exit code; output:%n%s", r.output).isZero();
        CliRun one = CliRun.of(CliRun.concat(CliRun.concat(common, oneOuts), "--devices", String.valueOf(ranks)));
        assertThat(one.code()).as(one.err()).isZero();
        for (String name : List.of("o", "lse", "dq", "dk", "dv")) {
            assertThat(Files.mismatch(dir.resolve(name + ".npy"), dir.resolve(name + "1.npy"))).as(name).isEqualTo(-1);
        }
    }

    @Test
    @Timeout(300)
    void aFailingRankLeavesExistingOutputsUntouched() throws Exception {
        inputs(true); // v holds NaN in a row of device 1's shard only
        Files.writeString(dir.resolve("o.npy"), "old");
        Result r = mpirun(2, new String[] {"attend", "--q", p("q"), "--k", p("k"), "--v", p("v"), "--out", p("o"),
            "--layout", "contiguous", "--threads", "1", "--mpi"});
        assertThat(r.code).as("exit code; output:%n%s", r.output).isNotZero();
        assertThat(r.output).contains("ring-attention: rank 1: ");
        assertThat(Files.readString(dir.resolve("o.npy"))).isEqualTo("old");
        try (var files = Files.list(dir)) {
            assertThat(files.map(f -> f.getFileName().toString()).filter(n -> n.endsWith(".tmp")).toList())
                    .as("temporary files left").isEmpty();
        }
    }

    /** bench --mpi warms up by bench's rule (here: exactly --warmup runs) and reports the hops. */
    @Test
    @Timeout(300)
    void benchTimesTheRanksAfterTheWarmUp() throws Exception {
        Result r = mpirun(2, new String[] {"bench", "--seq", "64", "--head-dim", "8", "--heads", "1", "--threads", "1",
            "--warmup", "3", "--warmup-ms", "0", "--reps", "2", "--block-q", "16", "--block-kv", "16", "--json",
            "--mpi"});
        assertThat(r.code).as("exit code; output:%n%s", r.output).isZero();
        String json = r.output.lines().filter(l -> l.startsWith("{")).reduce((a, b) -> b).orElseThrow();
        assertThat(json).contains("\"ranks\":2", "\"warmup_runs\":3", "\"block_source\":\"given\"",
                "\"hop_bytes\":2048.0"); // K and V of 32 rows of 8 floats
        assertThat(r.output).contains("(2 reps after 3 warm-up runs)");
    }

    private void inputs(boolean nan) throws Exception {
        int n = 50;
        int d = 8;
        Npy.write(dir.resolve("q.npy"), new long[] {1, 2, n, d}, CliRun.random(2 * n * d, 1));
        Npy.write(dir.resolve("k.npy"), new long[] {1, 1, n, d}, CliRun.random(n * d, 2));
        float[] v = CliRun.random(n * d, 3);
        if (nan) {
            v[40 * d + 3] = Float.NaN;
        }
        Npy.write(dir.resolve("v.npy"), new long[] {1, 1, n, d}, v);
        Npy.write(dir.resolve("do.npy"), new long[] {1, 2, n, d}, CliRun.random(2 * n * d, 4));
    }

    private String p(String name) {
        return dir.resolve(name + ".npy").toString();
    }

    private record Result(int code, String output) {
    }

    private Result mpirun(int ranks, String[] args) throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of("mpirun", "-np", String.valueOf(ranks), "--oversubscribe",
                "--allow-run-as-root", "--bind-to", "none",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "--add-modules",
                "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-Xmx256m", "-cp", cp,
                Main.class.getName()));
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile(dir, "mpirun", ".log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        // a hang guard, not a speed limit: the jobs take seconds; room for a JVM stopped for a minute or two
        if (!p.waitFor(180, TimeUnit.SECONDS)) {
            p.descendants().forEach(ProcessHandle::destroyForcibly);
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        String out = Files.readString(log, StandardCharsets.UTF_8);
        Files.delete(log);
        return new Result(p.isAlive() ? -1 : p.exitValue(), out);
    }
}
