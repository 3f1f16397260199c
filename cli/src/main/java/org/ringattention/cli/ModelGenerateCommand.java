package org.ringattention.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ringattention.model.Decoder;
import org.ringattention.model.Generation;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.Sampler;
import org.ringattention.tensor.Npy;
import org.ringattention.tensor.StagedFiles;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code model generate}: decoding over a sharded KV cache. */
@Command(name = "generate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Generates --steps tokens after the prompt: the prompt runs through the model (round the ring"
            + " with --devices), then each step's query goes to every device, each attends over the keys it holds"
            + " and the partial softmax states merge in device order. A new token's keys and values go to the"
            + " device holding the fewest tokens.",
            "Greedy by default; --temperature T > 0 samples from softmax(logits / T) with --seed.",
            "On a terminal, a progress bar on stderr counts the generated tokens (not with --quiet)."},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class ModelGenerateCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder.")
    Path model;

    @Option(names = "--tokens", required = true, paramLabel = "T.npy", description = "Prompt [N] or [B, N], int32"
            + " or int64.")
    Path tokens;

    @Option(names = "--steps", required = true, paramLabel = "K", description = "Tokens to generate.")
    int steps;

    @Option(names = "--out", required = true, paramLabel = "TOKENS.npy", description = "Generated tokens, int64,"
            + " [K] for a [N] prompt, else [B, K].")
    Path out;

    @Option(names = "--temperature", paramLabel = "T", defaultValue = "0", description = "0 for greedy decoding"
            + " (default), else the sampling temperature.")
    double temperature;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed of the sampler (default"
            + " ${DEFAULT-VALUE}); the same seed gives the same tokens for any --devices and --threads.")
    long seed;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    RingOptions ringOptions;

    @Option(names = "--quiet", description = "Print nothing on success (and no progress bar).")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        engineOptions.check();
        ringOptions.check();
        if (steps < 1) {
            throw CliException.usage("--steps must be >= 1, got " + steps);
        }
        if (!(temperature >= 0) || !Double.isFinite(temperature)) {
            throw CliException.usage("--temperature must be a finite number >= 0, got " + temperature);
        }
        AtomicOutputs.checkWritable(out, "--out");
        long start = System.nanoTime();
        LlamaWeights w = ModelSetup.load(model);
        ModelSetup.Tokens t = ModelSetup.tokens(tokens, w.config().vocabSize());
        ringOptions.checkLength(t.length());
        Decoder decoder = new Decoder(ModelSetup.model(w, engineOptions), ModelSetup.engine(engineOptions, ringOptions),
                ModelSetup.sharding(ringOptions));
        Sampler sampler = temperature == 0 ? Sampler.greedy() : Sampler.sampling(temperature, seed);
        int[] generated;
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "generate", steps, quiet, " tokens", 1)) {
            progress.message("prefill of " + t.length() + " tokens");
            generated = Generation.generate(decoder, t.ids(), t.batch(), steps, sampler, done -> progress.step(done
                    + "/" + steps + " tokens"));
        }
        long[] ids = new long[generated.length];
        for (int i = 0; i < ids.length; i++) {
            ids[i] = generated[i];
        }
        long[] shape = t.flat() ? new long[] {steps} : new long[] {t.batch(), steps};
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(out, temp -> Npy.writeInt64(temp, shape, ids));
            staged.commit();
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("model generate: %d prompt tokens x %d, %d steps, %s, %d device%s,"
                    + " cache per device %s tokens in %.3f s -> %s%n", t.length(), t.batch(), steps,
                    temperature == 0 ? "greedy" : "temperature " + temperature + ", seed " + seed, ringOptions.devices,
                    ringOptions.devices == 1 ? "" : "s", java.util.Arrays.toString(decoder.deviceLengths()),
                    (System.nanoTime() - start) / 1e9, out);
        }
        return 0;
    }
}
