package org.ringattention.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.model.LlamaModel;
import org.ringattention.model.LlamaReference;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.Sharding;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code model run}: the logits of a token sequence. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Computes the logits [B, N, vocab] of tokens [N] or [B, N] (int32 or int64) with a model"
            + " folder. float32 runs the blockwise transformer (round the ring with --devices); float64 runs the"
            + " float64 twin (one device, whole sequence), the oracle the float32 model is checked against.",
            "The output replaces an existing file only when it is complete."},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class ModelRunCommand implements Callable<Integer> {

    @Option(names = "--model", required = true, paramLabel = "DIR", description = "Model folder (config.json,"
            + " model.safetensors or shards with model.safetensors.index.json).")
    Path model;

    @Option(names = "--tokens", required = true, paramLabel = "T.npy", description = "Tokens [N] or [B, N], int32"
            + " or int64.")
    Path tokens;

    @Option(names = "--out", required = true, paramLabel = "LOGITS.npy", description = "Logits [B, N, vocab]"
            + " (float32; float64 with --precision float64).")
    Path out;

    @Option(names = "--precision", paramLabel = "P", defaultValue = "float32", description = "float32 (the"
            + " blockwise model) or float64 (the float64 twin). Default ${DEFAULT-VALUE}.")
    String precision;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    RingOptions ringOptions;

    @Option(names = "--quiet", description = "Print nothing on success.")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        engineOptions.check();
        ringOptions.check();
        boolean float64 = switch (precision) {
            case "float32" -> false;
            case "float64" -> true;
            default -> throw CliException.usage("--precision must be float32 or float64, got '" + precision + "'");
        };
        if (float64 && ringOptions.active()) {
            throw CliException.usage("--precision float64 runs the float64 twin on one device: drop --devices and"
                    + " --layout");
        }
        AtomicOutputs.checkWritable(out, "--out");
        long start = System.nanoTime();
        LlamaWeights w = ModelSetup.load(model);
        ModelSetup.Tokens t = ModelSetup.tokens(tokens, w.config().vocabSize());
        long[] shape = {t.batch(), t.length(), w.config().vocabSize()};
        String what;
        try (AtomicOutputs outputs = new AtomicOutputs();
             Progress progress = Progress.start(spec.commandLine().getErr(), "model run", 2, quiet)) {
            if (float64) {
                outputs.stage(out, shape, new LlamaReference(w).forward(t.ids(), t.batch()));
                what = "float64 twin";
            } else {
                ringOptions.checkLength(t.length());
                AttentionEngine engine = ModelSetup.engine(engineOptions, ringOptions);
                Sharding sharding = ModelSetup.sharding(ringOptions);
                LlamaModel m = ModelSetup.model(w, engineOptions);
                outputs.stage(out, shape, m.forward(t.ids(), t.batch(), engine, sharding));
                what = "float32, " + m.blockRows() + "-row blocks, attention " + engine.describe();
            }
            progress.step("forward done");
            outputs.commit();
            progress.step("written");
        }
        if (!quiet) {
            spec.commandLine().getErr().printf("model run: %d layers, hidden %d, %d tokens x %d, %s in %.3f s -> %s%n",
                    w.config().layers(), w.config().hiddenSize(), t.length(), t.batch(), what,
                    (System.nanoTime() - start) / 1e9, out);
        }
        return 0;
    }
}
