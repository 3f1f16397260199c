package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.model.Decoder;
import org.ringattention.model.Generation;
import org.ringattention.model.LlamaModel;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.ModelFolder;
import org.ringattention.model.Sampler;
import org.ringattention.model.Sharding;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.NpyArray;

/** model init, run, generate and bench: outputs, agreement with the Java API and with NumPy, errors. */
class ModelCommandTest {

    /** GQA 6 query heads over 2, three layers, odd sizes. */
    private static final String CONFIG = """
            {"hidden_size": 36, "intermediate_size": 41, "num_hidden_layers": 3, "num_attention_heads": 6,
             "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": 37,
             "tie_word_embeddings": false}""";

    private static final int BATCH = 2;
    private static final int N = 19;

    @TempDir
    Path dir;

    private int[] tokens;

    @BeforeEach
    void init() throws IOException {
        Files.writeString(dir.resolve("config.json"), CONFIG);
        CliRun r = CliRun.of("model", "init", "--config", p("config.json"), "--seed", "5", "--out", p("m"), "--dtype",
                "bf16");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.err()).contains("model init:");
        tokens = new int[BATCH * N];
        long[] t = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = (i * 7 + 3) % 37;
            t[i] = tokens[i];
        }
        Npy.writeInt64(dir.resolve("t.npy"), new long[] {BATCH, N}, t);
    }

    private String p(String name) {
        return dir.resolve(name).toString();
    }

    private float[] run(String... more) throws IOException {
        CliRun r = CliRun.of(CliRun.concat(new String[] {"model", "run", "--model", p("m"), "--tokens", p("t.npy"),
            "--out", p("logits.npy"), "--block-q", "4", "--block-kv", "3", "--threads", "2"}, more));
        assertThat(r.code()).as(r.err()).isZero();
        NpyArray a = Npy.read(dir.resolve("logits.npy"));
        assertThat(a.shape()).containsExactly(BATCH, N, 37);
        return a.toFloatArray();
    }

    @Test
    void runGivesTheBitsOfTheModelOnOneDeviceAndOnTheRing() throws IOException {
        LlamaWeights w = ModelFolder.load(dir.resolve("m"));
        LlamaModel m = new LlamaModel(w, Kernels.preferred(), 4, 2);
        assertThat(run()).containsExactly(m.forward(tokens, BATCH, new BlockwiseAttention(Kernels.preferred(), 4, 3,
                2), Sharding.SINGLE));
        float[] ring = run("--devices", "3", "--layout", "striped");
        assertThat(ring).containsExactly(m.forward(tokens, BATCH,
                new org.ringattention.ring.RingAttention(Kernels.preferred(), 4, 3, 2, 3,
                        org.ringattention.ring.Layout.STRIPED, org.ringattention.ring.LinkModel.UNTHROTTLED),
                new Sharding(3, org.ringattention.ring.Layout.STRIPED)));
    }

    @Test
    void runMatchesTheIndependentNumpyModelWithinTheRule() throws Exception {
        String python = CliRun.pythonWithNumpy();
        assumeTrue(python != null, "no Python with NumPy: the NumPy cross-check is skipped");
        Path script = Path.of("../model/src/test/python/llama_reference.py").toAbsolutePath();
        Process pr = new ProcessBuilder(python, script.toString(), p("m"), p("t.npy"), p("ref.npy"))
                .redirectErrorStream(true).start();
        String log = new String(pr.getInputStream().readAllBytes());
        assertThat(pr.waitFor(300, TimeUnit.SECONDS) && pr.exitValue() == 0).as(log).isTrue();
        double[] ref = Npy.read(dir.resolve("ref.npy")).toDoubleArray();
        float[] base = LlamaModel.plain(ModelFolder.load(dir.resolve("m"))).forward(tokens, BATCH,
                LlamaModel.plainAttention(), Sharding.SINGLE);
        for (String[] opts : List.of(new String[0], new String[] {"--devices", "3", "--layout", "zigzag"},
                new String[] {"--devices", "2", "--layout", "contiguous"}, new String[] {"--devices", "4", "--layout",
                    "striped"})) {
            float[] got = run(opts);
            AccuracyRule.Verdict v = AccuracyRule.FORWARD.judge(ref, widen(got), widen(base), ErrorStats.maxAbs(ref));
            assertThat(v.pass()).as("%s: %s", String.join(" ", opts), v).isTrue();
        }
        CliRun f64 = CliRun.of("model", "run", "--model", p("m"), "--tokens", p("t.npy"), "--out", p("l64.npy"),
                "--precision", "float64");
        assertThat(f64.code()).as(f64.err()).isZero();
        assertThat(ErrorStats.of(ref, Npy.read(dir.resolve("l64.npy")).toDoubleArray()).maxAbs()).isLessThan(1e-9);
    }

    @Test
    void generateGivesTheTokensOfTheApiForAnyDevices() throws IOException {
        LlamaWeights w = ModelFolder.load(dir.resolve("m"));
        int[] expected = Generation.generate(new Decoder(new LlamaModel(w, Kernels.preferred(), 128, 1),
                new BlockwiseAttention(Kernels.preferred(), 128, 128, 1), Sharding.SINGLE), tokens, BATCH, 6,
                Sampler.sampling(0.8, 3));
        for (String devices : new String[] {"1", "3"}) {
            CliRun r = CliRun.of("model", "generate", "--model", p("m"), "--tokens", p("t.npy"), "--steps", "6",
                    "--temperature", "0.8", "--seed", "3", "--devices", devices, "--out", p("gen.npy"));
            assertThat(r.code()).as(r.err()).isZero();
            NpyArray a = Npy.read(dir.resolve("gen.npy"));
            assertThat(a.shape()).containsExactly(BATCH, 6);
            long[] got = a.toLongArray();
            for (int i = 0; i < got.length; i++) {
                assertThat(got[i]).as("token %d with %s devices", i, devices).isEqualTo(expected[i]);
            }
        }
    }

    @Test
    void benchRunsOnATinyModel() {
        CliRun r = CliRun.of("model", "bench", "--config", p("config.json"), "--tokens", "24", "--decode", "3",
                "--devices", "2", "--peak-ms", "0", "--threads", "1");
        assertThat(r.code()).as(r.err()).isZero();
        assertThat(r.out()).contains("prefill:").contains("tokens/s")
                .contains("decode: 3 steps after 16 warm-up steps: ")
                .contains(" ms per step (median; min ").contains("the first warm-up step took")
                .contains("device 1: 21 cached tokens").contains("memory per device");
        CliRun cold = CliRun.of("model", "bench", "--config", p("config.json"), "--tokens", "24", "--decode", "2",
                "--decode-warmup", "0", "--peak-ms", "0", "--runs", "1", "--threads", "1");
        assertThat(cold.code()).as(cold.err()).isZero();
        assertThat(cold.out()).contains("decode: 2 steps after 0 warm-up steps: ").doesNotContain("first warm-up")
                .contains("device 0: 26 cached tokens");
        assertThat(CliRun.of("model", "bench", "--config", p("config.json"), "--decode-warmup", "-1").code())
                .isEqualTo(2);
    }

    @Test
    void memoryTableShowsTheBlockwiseTransformerFlatInNForFixedShards() throws IOException {
        CliRun r = CliRun.of("model", "bench", "--config", p("config.json"), "--memory", "--tokens", "256",
                "--csv", p("mem.csv"), "--png", p("mem.png"), "--threads", "2");
        assertThat(r.code()).as(r.err()).isZero();
        List<String> lines = Files.readAllLines(dir.resolve("mem.csv"));
        assertThat(lines.get(0)).startsWith("n,devices,vanilla_bytes,memory_efficient_bytes,blockwise_bytes_per_device");
        assertThat(lines).hasSize(8);
        double[][] rows = lines.stream().skip(1).map(l -> java.util.Arrays.stream(l.split(","))
                .mapToDouble(Double::parseDouble).toArray()).toArray(double[][]::new);
        for (double[] row : rows) {
            assertThat(row[0]).isEqualTo(256 * row[1]);
            assertThat(row[4]).isEqualTo(rows[0][4]); // flat in N for N / P fixed
        }
        // the per-thread block scratch is a constant: it matters at small N only
        assertThat(rows[6][4]).isLessThan(rows[6][3]).isLessThan(rows[6][2]);
        assertThat(rows[6][2] / rows[0][2]).isGreaterThan(64 * 8); // vanilla: the N^2 scores dominate
        assertThat(rows[6][3] / rows[0][3]).isEqualTo(64.0, org.assertj.core.data.Offset.offset(1e-9));
        byte[] png = Files.readAllBytes(dir.resolve("mem.png"));
        assertThat(new String(png, 1, 3, java.nio.charset.StandardCharsets.US_ASCII)).isEqualTo("PNG");
    }

    @Test
    void errorsAreOneLineAndNameTheCulprit() throws IOException {
        CliRun.of("model", "run", "--model", p("nope"), "--tokens", p("t.npy"), "--out", p("x.npy"))
                .assertOneLineError(1, "nope", "not a directory");
        Npy.writeInt32(dir.resolve("bad.npy"), new long[] {3}, new int[] {1, 37, 2});
        CliRun.of("model", "run", "--model", p("m"), "--tokens", p("bad.npy"), "--out", p("x.npy"))
                .assertOneLineError(1, "bad.npy", "token 37 at index [1]", "vocabulary [0, 37)");
        CliRun.of("model", "run", "--model", p("m"), "--tokens", p("t.npy"), "--out", p("x.npy"), "--precision", "f16")
                .assertOneLineError(2, "--precision");
        CliRun.of("model", "run", "--model", p("m"), "--tokens", p("t.npy"), "--out", p("x.npy"), "--precision",
                "float64", "--devices", "2").assertOneLineError(2, "float64 twin on one device");
        CliRun.of("model", "generate", "--model", p("m"), "--tokens", p("t.npy"), "--out", p("x.npy"), "--steps", "0")
                .assertOneLineError(2, "--steps");
        CliRun.of("model", "init", "--config", p("config.json"), "--out", p("m2"), "--dtype", "int8")
                .assertOneLineError(2, "--dtype");
        Files.delete(dir.resolve("m").resolve("model.safetensors"));
        CliRun.of("model", "run", "--model", p("m"), "--tokens", p("t.npy"), "--out", p("x.npy"))
                .assertOneLineError(1, "model.safetensors: cannot read: no such file");
        assertThat(Files.exists(dir.resolve("x.npy"))).isFalse();
    }

    private static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
