package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.ringattention.model.LlamaConfig;
import org.ringattention.model.LlamaWeights;
import org.ringattention.model.ModelFolder;
import org.ringattention.model.ModelFormatException;
import org.ringattention.tensor.DType;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code model init}: a model folder with random weights. */
@Command(name = "init", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Writes a model folder (config.json and model.safetensors, or --shards files with"
            + " model.safetensors.index.json) with random weights from --seed: embeddings standard normal, linear"
            + " layers normal with variance 1/fan-in, norm weights 1 + 0.1 * normal. Files are written under"
            + " temporary names and renamed into place when all are complete."},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class ModelInitCommand implements Callable<Integer> {

    @Option(names = "--config", required = true, paramLabel = "CONFIG.json", description = "A config.json with"
            + " the LlamaForCausalLM keys (hidden_size, intermediate_size, num_hidden_layers, num_attention_heads,"
            + " num_key_value_heads, head_dim, rms_norm_eps, rope_theta, vocab_size, tie_word_embeddings).")
    Path config;

    @Option(names = "--seed", paramLabel = "S", defaultValue = "0", description = "Seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The model folder (created).")
    Path out;

    @Option(names = "--shards", paramLabel = "K", defaultValue = "1", description = "Safetensors files (default"
            + " ${DEFAULT-VALUE}; more writes model-0000i-of-0000K.safetensors and an index).")
    int shards;

    @Option(names = "--dtype", paramLabel = "T", defaultValue = "F32", description = "Stored type of the weights:"
            + " F32 (default), BF16 or F16 (rounded to nearest).")
    String dtype;

    @Option(names = "--quiet", description = "Print nothing on success.")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (shards < 1) {
            throw CliException.usage("--shards must be >= 1, got " + shards);
        }
        if (Files.exists(out) && !Files.isDirectory(out)) {
            throw CliException.usage("--out " + out + ": exists and is not a directory");
        }
        DType stored = switch (dtype.toUpperCase(java.util.Locale.ROOT)) {
            case "F32" -> DType.FLOAT32;
            case "BF16" -> DType.BFLOAT16;
            case "F16" -> DType.FLOAT16;
            default -> throw CliException.usage("--dtype must be F32, BF16 or F16, got '" + dtype + "'");
        };
        LlamaConfig c;
        try {
            c = LlamaConfig.read(config);
        } catch (ModelFormatException e) {
            throw CliException.data(e.getMessage());
        }
        if (c.parameters() > Integer.MAX_VALUE / 2) {
            throw CliException.data(config + ": " + c.parameters() + " parameters are too many for random init on the"
                    + " heap");
        }
        ModelFolder.write(out, LlamaWeights.random(c, seed), shards, stored);
        if (!quiet) {
            spec.commandLine().getErr().printf("model init: %d parameters (%d layers, hidden %d, %d/%d heads, vocab %d),"
                    + " seed %d -> %s%n", c.parameters(), c.layers(), c.hiddenSize(), c.heads(), c.kvHeads(),
                    c.vocabSize(), seed, out);
        }
        return 0;
    }
}
