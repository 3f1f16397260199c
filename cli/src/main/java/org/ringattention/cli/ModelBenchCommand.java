package org.ringattention.cli;

import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.bench.FmaPeak;
import org.ringattention.bench.MachineInfo;
import org.ringattention.model.ActivationMemory;
import org.ringattention.model.Decoder;
import org.ringattention.model.LlamaConfig;
import org.ringattention.model.LlamaModel;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.ModelFormatException;
import org.ringattention.model.Sampler;
import org.ringattention.model.Sharding;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code model bench}: prefill and decode speed of the blockwise transformer, and its memory per device. */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Times a prefill of --tokens random tokens (the best of --runs) and --decode greedy decoding"
            + " steps, with a model folder or random weights for a config.json. Prints prefill tokens/s and GFLOP/s"
            + " with its share of the FMA peak measured in the same process on the same threads (FLOPs: 2 per"
            + " multiply-add of every matrix product, attention 4 N^2 d per head halved for the causal mask),"
            + " decode milliseconds per step (the median of --decode steps after --decode-warmup untimed ones) and"
            + " tokens/s, and the memory each device holds (hidden states, attention inputs and outputs of"
            + " one layer, the KV cache after decoding)."},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class ModelBenchCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = "--model", paramLabel = "DIR", description = "Model folder.")
        Path model;

        @Option(names = "--config", paramLabel = "CONFIG.json", description = "Random weights for this config.")
        Path config;
    }

    private static final double MIB = 1 << 20;

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the random weights and"
            + " tokens (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--tokens", paramLabel = "N", defaultValue = "512", description = "Prompt length (default"
            + " ${DEFAULT-VALUE}).")
    int tokens;

    @Option(names = "--decode", paramLabel = "K", defaultValue = "8", description = "Decoding steps timed after the"
            + " prefill (default ${DEFAULT-VALUE}; 0 for none).")
    int decode;

    @Option(names = "--decode-warmup", paramLabel = "W", defaultValue = "16", description = "Untimed decoding"
            + " steps before the timed ones, while the JIT compiles the one-row code paths (default ${DEFAULT-VALUE}).")
    int decodeWarmup;

    @Option(names = "--runs", paramLabel = "R", defaultValue = "3", description = "Timed prefills; the best is"
            + " reported, so the first (with the JIT compiling the kernels) rarely counts (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--peak-ms", paramLabel = "MS", defaultValue = "300", description = "Milliseconds of the FMA"
            + " peak measurement (default ${DEFAULT-VALUE}; 0 skips it).")
    int peakMillis;

    @Option(names = "--memory", description = "Instead of timing: activation memory of one layer per device"
            + " against N (N = c * P for P = 1, 2, 4, ..., 64 devices, c = --tokens) for vanilla attention,"
            + " memory-efficient attention with a whole-sequence feed-forward and the blockwise transformer,"
            + " beside the paper's Table 1 formulas, as CSV (stdout or --csv) and a PNG chart (--png).")
    boolean memory;

    @Option(names = "--csv", paramLabel = "FILE", description = "With --memory: write the CSV here.")
    Path csv;

    @Option(names = "--png", paramLabel = "FILE", description = "With --memory: write the chart here.")
    Path png;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    RingOptions ringOptions;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        engineOptions.check();
        ringOptions.check();
        if (tokens < 1 || runs < 1 || decode < 0 || decodeWarmup < 0 || peakMillis < 0) {
            throw CliException.usage("--tokens and --runs must be >= 1, --decode, --decode-warmup and --peak-ms >= 0");
        }
        if (memory) {
            return memoryTable(source.model != null ? ModelSetup.load(source.model).config() : readConfig());
        }
        LlamaWeights w = source.model != null ? ModelSetup.load(source.model) : LlamaWeights.random(readConfig(), seed);
        LlamaConfig c = w.config();
        ringOptions.checkLength(tokens);
        int[] ids = new int[tokens];
        SplittableRandom rnd = new SplittableRandom(seed + 1);
        for (int i = 0; i < tokens; i++) {
            ids[i] = rnd.nextInt(c.vocabSize());
        }
        AttentionEngine engine = ModelSetup.engine(engineOptions, ringOptions);
        Sharding sharding = ModelSetup.sharding(ringOptions);
        LlamaModel model = ModelSetup.model(w, engineOptions);
        int t = engineOptions.threads();
        PrintWriter out = spec.commandLine().getOut();
        out.printf(Locale.ROOT, "model bench: %d layers, hidden %d, intermediate %d, %d/%d heads of %d, vocab %d;"
                + " %d tokens, %d-row blocks, attention %s%n", c.layers(), c.hiddenSize(), c.intermediateSize(),
                c.heads(), c.kvHeads(), c.headDim(), c.vocabSize(), tokens, model.blockRows(), engine.describe());
        out.printf(Locale.ROOT, "cpu: %s (%d processors), java %s%n", MachineInfo.cpuModel(), MachineInfo.processors(),
                MachineInfo.javaVersion());
        out.flush();
        double best = Double.POSITIVE_INFINITY;
        for (int r = 0; r < runs; r++) {
            long s = System.nanoTime();
            model.forward(ids, 1, engine, sharding);
            best = Math.min(best, (System.nanoTime() - s) / 1e9);
        }
        double flops = prefillFlops(c, tokens);
        FmaPeak.Result peak = peakMillis == 0 ? null
                : FmaPeak.measure(FmaPeak.Kind.VECTOR, t, FmaPeak.DEFAULT_WARMUP, Duration.ofMillis(peakMillis));
        double gflops = flops / best / 1e9;
        out.printf(Locale.ROOT, "prefill: %.4f s, %.1f tokens/s, %.2f GFLOP/s%s%n", best, tokens / best, gflops,
                peak == null || !peak.available() ? " (peak not measured)" : String.format(Locale.ROOT,
                        " = %.1f %% of the %.1f GFLOP/s FMA peak on %d thread%s", 100 * gflops / peak.gflops(),
                        peak.gflops(), t, t == 1 ? "" : "s"));
        if (decode > 0) {
            Decoder d = new Decoder(model, engine, sharding);
            float[] logits = d.prefill(ids, 1);
            Sampler greedy = Sampler.greedy();
            // Untimed warm-up: the first steps run the one-row code paths (matrix-vector products,
            // partials over the cache) before the JIT has compiled them, many times slower than later.
            double firstMillis = 0;
            for (int k = 0; k < decodeWarmup; k++) {
                long s = System.nanoTime();
                logits = d.step(greedy.next(logits, 1));
                if (k == 0) {
                    firstMillis = (System.nanoTime() - s) / 1e6;
                }
            }
            double[] millis = new double[decode];
            for (int k = 0; k < decode; k++) {
                long s = System.nanoTime();
                logits = d.step(greedy.next(logits, 1));
                millis[k] = (System.nanoTime() - s) / 1e6;
            }
            double mean = java.util.Arrays.stream(millis).average().orElseThrow();
            java.util.Arrays.sort(millis);
            double median = decode % 2 == 1 ? millis[decode / 2] : (millis[decode / 2 - 1] + millis[decode / 2]) / 2;
            out.printf(Locale.ROOT, "decode: %d steps after %d warm-up steps: %.3f ms per step (median; min %.3f, mean"
                    + " %.3f), %.2f tokens/s%s%n", decode, decodeWarmup, median, millis[0], mean, 1000 / median,
                    decodeWarmup == 0 ? "" : String.format(Locale.ROOT, "; the first warm-up step took %.1f ms",
                            firstMillis));
            for (int dev = 0; dev < ringOptions.devices; dev++) {
                out.printf(Locale.ROOT, "device %d: %d cached tokens, KV cache %.3f MiB%n", dev, d.deviceLengths()[dev],
                        d.cacheBytes(dev) / 1048576.0);
            }
        }
        long shard = (tokens + ringOptions.devices - 1) / ringOptions.devices;
        long layerFloats = shard * (c.hiddenSize() + 2L * c.qWidth() + 2L * c.kvWidth());
        long blockFloats = Math.min(model.blockRows(), shard) * (2L * c.intermediateSize() + 3L * c.hiddenSize()
                + c.qWidth() + 2L * c.kvWidth());
        out.printf(Locale.ROOT, "memory per device: hidden states and one layer's q, k, v, o of %d tokens %.3f MiB,"
                + " per-block work %.3f MiB per thread%n", shard, 4.0 * layerFloats / 1048576, 4.0 * blockFloats
                / 1048576);
        return 0;
    }

    private LlamaConfig readConfig() throws java.io.IOException {
        try {
            return LlamaConfig.read(source.config);
        } catch (ModelFormatException e) {
            throw CliException.data(e.getMessage());
        }
    }

    /** The --memory table: CSV rows and an optional chart, files written under temporary names. */
    private int memoryTable(LlamaConfig c) throws java.io.IOException {
        for (Path p : new Path[] {csv, png}) {
            if (p != null) {
                AtomicOutputs.checkWritable(p, p == csv ? "--csv" : "--png");
            }
        }
        ActivationMemory m = new ActivationMemory(c, 1, engineOptions.blockQ, engineOptions.blockQ,
                engineOptions.blockKv, engineOptions.threads());
        StringBuilder text = new StringBuilder("n,devices,vanilla_bytes,memory_efficient_bytes,blockwise_bytes_per_device,"
                + "paper_vanilla_bytes,paper_memory_efficient_bytes,paper_ring_bytes_per_device\n");
        int points = 7;
        double[] ns = new double[points];
        double[][] ys = new double[3][points];
        for (int i = 0; i < points; i++) {
            int devices = 1 << i;
            long n = (long) tokens * devices;
            ns[i] = n;
            text.append(String.format(Locale.ROOT, "%d,%d,%.0f,%.0f,%.0f,%.0f,%.0f,%.0f%n", n, devices, m.vanilla(n),
                    m.memoryEfficient(n), m.blockwise(n, devices), m.paperVanilla(n), m.paperMemoryEfficient(n),
                    m.paperRing(n, devices)));
            ys[0][i] = m.vanilla(n) / MIB;
            ys[1][i] = m.memoryEfficient(n) / MIB;
            ys[2][i] = m.blockwise(n, devices) / MIB;
        }
        try (org.ringattention.tensor.StagedFiles staged = new org.ringattention.tensor.StagedFiles()) {
            if (csv != null) {
                staged.stage(csv, t -> java.nio.file.Files.writeString(t, text));
            }
            if (png != null) {
                Chart chart = new Chart("Activation memory of one layer per device",
                        String.format(Locale.ROOT, "hidden %d, intermediate %d, %d/%d heads of %d; blockwise: N/P = %d"
                                + " tokens per device", c.hiddenSize(), c.intermediateSize(), c.heads(), c.kvHeads(),
                                c.headDim(), tokens), "sequence length N", "MiB (float32)")
                        .add(new Chart.Series("vanilla attention", Chart.RED, false, Chart.Marker.CIRCLE,
                                ns, ys[0]))
                        .add(new Chart.Series("memory-efficient attention, whole-sequence FFN", Chart.ORANGE,
                                false, Chart.Marker.SQUARE, ns, ys[1]))
                        .add(new Chart.Series("blockwise transformer, P = N / " + tokens + " devices",
                                Chart.BLUE, false, Chart.Marker.TRIANGLE, ns, ys[2]));
                staged.stage(png, chart::writePng);
            }
            staged.commit();
        }
        if (csv == null) {
            spec.commandLine().getOut().print(text);
            spec.commandLine().getOut().flush();
        }
        return 0;
    }

    /** 2 FLOPs per multiply-add of every matrix product, causal attention 2·N²·d per head and layer. */
    static double prefillFlops(LlamaConfig c, long n) {
        double h = c.hiddenSize();
        double perToken = h * c.qWidth() + 2 * h * c.kvWidth() + (double) c.qWidth() * h + 3 * h * c.intermediateSize();
        return 2 * n * (perToken * c.layers() + h * c.vocabSize())
                + 2.0 * n * n * c.headDim() * c.heads() * c.layers();
    }
}
