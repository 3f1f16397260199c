package org.ringattention.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code model}: the Llama-family blockwise transformer (run, generate, bench, init). */
@Command(name = "model", mixinStandardHelpOptions = true,
        description = {"A Llama-family decoder (Hugging Face LlamaForCausalLM numerics) computed block by block:"
            + " projections and feed-forward per query block on each device's shard, attention blockwise or round"
            + " the ring over --devices P, decoding over a KV cache sharded across the devices.",
            "A model is a Hugging Face folder: config.json and model.safetensors (or shards with"
            + " model.safetensors.index.json), F32, BF16 or F16 weights."},
        subcommands = {ModelRunCommand.class, ModelGenerateCommand.class, ModelBenchCommand.class,
            ModelInitCommand.class, CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage."})
final class ModelCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
