package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.BlockSizes;
import org.ringattention.bench.MachineInfo;
import org.ringattention.tensor.Npy;

/**
 * The tune contract and the tuning file: tune's output and JSON, --save, attend, bench and info
 * reading the file, bits independent of it, a corrupt file a one-line warning. Every test points
 * the tuning folder at a temporary folder (the system property), never at the user's home.
 */
class TuneCommandTest {

    @TempDir
    Path dir;

    private String previous;
    private Path config;

    @BeforeEach
    void useTemporaryConfig() throws IOException {
        previous = System.getProperty(TuningFile.DIR_PROPERTY);
        config = Files.createDirectories(dir.resolve("config"));
        System.setProperty(TuningFile.DIR_PROPERTY, config.toString());
        Npy.write(dir.resolve("q.npy"), new long[] {1, 2, 37, 6}, CliRun.random(2 * 37 * 6, 1));
        Npy.write(dir.resolve("k.npy"), new long[] {1, 2, 37, 6}, CliRun.random(2 * 37 * 6, 2));
        Npy.write(dir.resolve("v.npy"), new long[] {1, 2, 37, 6}, CliRun.random(2 * 37 * 6, 3));
    }

    @AfterEach
    void restore() {
        if (previous == null) {
            System.clearProperty(TuningFile.DIR_PROPERTY);
        } else {
            System.setProperty(TuningFile.DIR_PROPERTY, previous);
        }
    }

    /** tune on a tiny shape with a short budget: N = 40, H = 1, one thread, 0.4 s. */
    private static String[] tiny(int dim, String blocks, String... more) {
        return CliRun.concat(new String[] {"tune", "--seq", "40", "--head-dim", String.valueOf(dim), "--heads", "1",
            "--threads", "1", "--blocks", blocks, "--budget-ms", "400", "--quiet"}, more);
    }

    @Test
    void printsTheBestCandidateAndOneJsonObjectLast() throws IOException {
        CliRun r = CliRun.of(tiny(8, "8,16,64", "--link-bandwidth", "2G", "--json"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("best: --block-q").contains("of the vector FMA peak").contains("c* = 2*F/B");
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        // 64 > N = 40 is dropped: 2 x 2 candidates
        assertThat(j.get("candidates")).hasSize(4);
        assertThat(j.get("block_q").asInt()).isIn(8, 16);
        assertThat(j.get("block_kv").asInt()).isIn(8, 16);
        double gflops = j.get("gflops").asDouble();
        assertThat(gflops).isPositive();
        for (JsonNode c : j.get("candidates")) {
            assertThat(c.get("gflops").asDouble()).isLessThanOrEqualTo(gflops);
            assertThat(c.get("reps").asInt()).isBetween(1, TuneCommand.MAX_REPS);
        }
        assertThat(j.get("fraction_of_peak").asDouble()).isCloseTo(gflops / j.get("peak_fma_gflops").asDouble(),
                within(1e-12));
        // c* = 2 F / B, F in FLOP/s, B = 2e9 bytes/s
        assertThat(j.get("c_star").asDouble()).isCloseTo(2 * gflops * 1e9 / 2e9, within(1e-9 * gflops));
        assertThat(j.get("saved_to").isNull()).isTrue();
        assertThat(TuningFile.path()).doesNotExist();
    }

    @Test
    void withoutABandwidthThereIsNoCStar() throws IOException {
        CliRun r = CliRun.of(tiny(8, "16", "--json", "--backward", "--causal"));
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        assertThat(j.get("c_star").isNull()).isTrue();
        assertThat(j.get("shape_class").asText()).isEqualTo("d8-causal-backward");
        assertThat(j.get("block_q").asInt()).isEqualTo(16);
        assertThat(r.out()).doesNotContain("c* =");
    }

    @Test
    void saveWritesTheChoiceThatInfoShowsAndAttendUses() throws IOException {
        CliRun r = CliRun.of(tiny(6, "8", "--save"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("saved to " + TuningFile.path());
        Optional<TuningFile.Entry> saved = TuningFile.lookup(6, false, false, w -> { });
        assertThat(saved).isPresent();
        assertThat(saved.get().blockQ()).isEqualTo(8);
        assertThat(saved.get().cpu()).isEqualTo(MachineInfo.cpuModel());

        CliRun info = CliRun.of("info");
        assertThat(info.out()).contains("tuning file").contains(TuningFile.path().toString())
                .contains("d6-full-forward: 8x8");
        CliRun infoJson = CliRun.of("info", "--json");
        assertThat(new ObjectMapper().readTree(infoJson.out()).get("tuned_blocks").get(0).get("block_q").asInt())
                .isEqualTo(8);

        CliRun attend = attend(dir.resolve("tuned.npy"));
        assertThat(attend.err()).contains("blocks 8x8 (tuned)");
        attend(dir.resolve("explicit.npy"), "--block-q", "8", "--block-kv", "8");
        assertThat(floats("tuned.npy")).isEqualTo(floats("explicit.npy"));
    }

    /** Explicit block sizes give the same bits with the file and without it; the file only picks sizes. */
    @Test
    void bitsDependOnlyOnTheBlockSizes() throws IOException {
        attend(dir.resolve("without.npy"), "--block-q", "5", "--block-kv", "7");
        attend(dir.resolve("default.npy"));
        attend(dir.resolve("default-explicit.npy"), "--block-q", "128", "--block-kv", "128");
        assertThat(floats("default.npy")).isEqualTo(floats("default-explicit.npy"));

        save(3, 4);
        attend(dir.resolve("with.npy"), "--block-q", "5", "--block-kv", "7");
        assertThat(floats("with.npy")).isEqualTo(floats("without.npy"));
        attend(dir.resolve("tuned.npy"));
        attend(dir.resolve("tuned-explicit.npy"), "--block-q", "3", "--block-kv", "4");
        assertThat(floats("tuned.npy")).isEqualTo(floats("tuned-explicit.npy"));
        // the blocks matter to the bits: otherwise this test could not tell the file was read
        assertThat(floats("tuned.npy")).isNotEqualTo(floats("default.npy"));
    }

    @Test
    void benchUsesTheTunedBlocksAndSaysSo() throws IOException {
        save(3, 4);
        CliRun r = CliRun.of("bench", "--seq", "37", "--head-dim", "6", "--heads", "2", "--threads", "1", "--warmup",
                "0", "--warmup-ms", "0", "--reps", "1", "--peak-ms", "0", "--json");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = r.out().lines().toList();
        JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
        assertThat(j.get("block_q").asInt()).isEqualTo(3);
        assertThat(j.get("block_kv").asInt()).isEqualTo(4);
        assertThat(j.get("block_source").asText()).startsWith("tuned");
        CliRun given = CliRun.of("bench", "--seq", "37", "--head-dim", "6", "--heads", "2", "--threads", "1",
                "--warmup", "0", "--warmup-ms", "0", "--reps", "1", "--peak-ms", "0", "--block-q", "9", "--json");
        List<String> g = given.out().lines().toList();
        JsonNode jg = new ObjectMapper().readTree(g.get(g.size() - 1));
        assertThat(jg.get("block_q").asInt()).isEqualTo(9);
        assertThat(jg.get("block_kv").asInt()).isEqualTo(EngineOptions.DEFAULT_BLOCK);
        assertThat(jg.get("block_source").asText()).isEqualTo("given");
    }

    @Test
    void withNothingTunedBenchTakesTheRuleForItsHeadDimension() throws IOException {
        for (String[] c : new String[][] {{"128", ""}, {"64", ""}, {"128", "--backward"}}) {
            List<String> args = new ArrayList<>(List.of("bench", "--seq", "37", "--head-dim", c[0], "--heads",
                    "1", "--threads", "1", "--warmup", "0", "--warmup-ms", "0", "--reps", "1", "--peak-ms", "0",
                    "--json"));
            if (!c[1].isEmpty()) {
                args.add(c[1]);
            }
            CliRun r = CliRun.of(args.toArray(String[]::new));
            assertThat(r.code()).as(r.err()).isZero();
            List<String> lines = r.out().lines().toList();
            JsonNode j = new ObjectMapper().readTree(lines.get(lines.size() - 1));
            BlockSizes rule = BlockSizes.defaultFor(Integer.parseInt(c[0]), !c[1].isEmpty());
            assertThat(j.get("block_q").asInt()).isEqualTo(rule.blockQ());
            assertThat(j.get("block_kv").asInt()).isEqualTo(rule.blockKv());
            assertThat(j.get("block_source").asText()).isEqualTo("default for d = " + c[0]);
        }
    }

    @Test
    void aCorruptFileIsAOneLineWarningNotAFailure() throws IOException {
        attend(dir.resolve("default.npy"));
        for (String bad : new String[] {"{not json", "{\"format\": 1, \"entries\": [{\"cpu\": \"x\"}]}", "[]",
            "{\"format\": 99, \"entries\": []}"}) {
            Files.writeString(TuningFile.path(), bad);
            CliRun r = attend(dir.resolve("corrupt.npy"));
            List<String> warnings = r.err().lines().filter(l -> l.contains("warning")).toList();
            assertThat(warnings).as(r.err()).hasSize(1);
            assertThat(warnings.get(0)).startsWith("ring-attention: warning: ignoring the tuning file "
                    + TuningFile.path()).doesNotContain("\tat ");
            assertThat(floats("corrupt.npy")).isEqualTo(floats("default.npy"));
            assertThat(CliRun.of("info").code()).isZero();
        }
        // and --save replaces it
        CliRun r = CliRun.of(tiny(6, "8", "--save"));
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("replacing the unreadable tuning file");
        assertThat(TuningFile.read(TuningFile.path())).hasSize(1);
    }

    @Test
    void savingReplacesTheSameKeyAndKeepsTheOthers() throws IOException {
        Path file = config.resolve("other").resolve(TuningFile.FILE_NAME);
        TuningFile.save(file, entry("d64-full-forward", 64, 64), w -> { });
        TuningFile.save(file, entry("d128-full-forward", 128, 256), w -> { });
        TuningFile.save(file, entry("d64-full-forward", 32, 128), w -> { });
        List<TuningFile.Entry> entries = TuningFile.read(file);
        assertThat(entries).extracting(TuningFile.Entry::shapeClass).containsExactly("d128-full-forward",
                "d64-full-forward");
        assertThat(entries.get(1).blockQ()).isEqualTo(32);
        assertThat(file.getParent()).isDirectoryNotContaining("glob:**.tmp");
        List<String> warnings = new ArrayList<>();
        assertThat(TuningFile.lookup(file, "cpu", 25, "d64-full-forward", warnings::add)).isPresent();
        assertThat(TuningFile.lookup(file, "cpu", 26, "d64-full-forward", warnings::add)).isEmpty();
        assertThat(TuningFile.lookup(file, "other cpu", 25, "d64-full-forward", warnings::add)).isEmpty();
        assertThat(warnings).isEmpty();
        assertThat(TuningFile.read(config.resolve("missing.json"))).isEmpty();
        Files.writeString(file, "{\"format\": 1, \"entries\": [{\"cpu\": \"c\", \"shape_class\": \"s\","
                + " \"block_q\": 0, \"block_kv\": 4, \"gflops\": 1, \"seq\": 1, \"heads\": 1, \"threads\": 1}]}");
        assertThatThrownBy(() -> TuningFile.read(file)).isInstanceOf(IOException.class).hasMessageContaining("< 1");
    }

    @Test
    void theFolderComesFromThePropertyTheEnvironmentOrXdg() {
        assertThat(TuningFile.path()).isEqualTo(config.resolve(TuningFile.FILE_NAME));
        assertThat(TuningFile.shapeClass(128, true, false)).isEqualTo("d128-causal-forward");
    }

    @Test
    void refusesBadUsage() {
        CliRun.of("tune", "--budget-ms", "0").assertOneLineError(CliException.BAD_USAGE, "--budget-ms");
        CliRun.of("tune", "--blocks", "0,8").assertOneLineError(CliException.BAD_USAGE, "--blocks");
        CliRun.of("tune", "--seq", "0").assertOneLineError(CliException.BAD_USAGE, "--seq");
        CliRun.of("tune", "--link-bandwidth", "fast").assertOneLineError(CliException.BAD_USAGE, "--link-bandwidth");
        CliRun.of("tune", "--threads", "0").assertOneLineError(CliException.BAD_USAGE, "--threads");
    }

    private static TuningFile.Entry entry(String shapeClass, int bq, int bkv) {
        return new TuningFile.Entry("cpu", 25, shapeClass, bq, bkv, 1.0, 0.5, 64, 1, 1, "2026-01-01T00:00:00Z");
    }

    /** Saves blocks for this CPU and attend's shape of the tests (d = 6, full, forward). */
    private void save(int bq, int bkv) throws IOException {
        TuningFile.save(TuningFile.path(), new TuningFile.Entry(MachineInfo.cpuModel(), MachineInfo.cpuFamily(),
                TuningFile.shapeClass(6, false, false), bq, bkv, 1.0, null, 37, 2, 1, "now"), w -> { });
    }

    private CliRun attend(Path out, String... more) {
        CliRun r = CliRun.of(CliRun.concat(new String[] {"attend", "--q", dir.resolve("q.npy").toString(), "--k",
            dir.resolve("k.npy").toString(), "--v", dir.resolve("v.npy").toString(), "--out", out.toString(),
            "--threads", "1"}, more));
        assertThat(r.code()).as(r.err()).isZero();
        return r;
    }

    private float[] floats(String name) throws IOException {
        return Npy.read(dir.resolve(name)).toFloatArray();
    }
}
