package org.ringattention.cli;

import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.bench.MachineInfo;
import org.ringattention.kernel.Kernels;
import picocli.CommandLine.Option;

/**
 * The options that set up the engine, shared by the commands that run it: block sizes and
 * threads. The ring's options are {@link RingOptions}.
 */
final class EngineOptions {

    @Option(names = "--block-q", paramLabel = "N", defaultValue = "128", description = "Query block size (default"
            + " ${DEFAULT-VALUE}; any size >= 1).")
    int blockQ;

    @Option(names = "--block-kv", paramLabel = "N", defaultValue = "128", description = "Key/value block size"
            + " (default ${DEFAULT-VALUE}; any size >= 1).")
    int blockKv;

    @Option(names = "--threads", paramLabel = "T", description = "Worker threads (default: the available"
            + " processors); results are the same bits for any number. With --devices, the threads all devices"
            + " share.")
    Integer threads;

    /** Refuses values the engine cannot use, naming the option. */
    void check() {
        if (blockQ < 1) {
            throw CliException.usage("--block-q must be >= 1, got " + blockQ);
        }
        if (blockKv < 1) {
            throw CliException.usage("--block-kv must be >= 1, got " + blockKv);
        }
        if (threads != null && threads < 1) {
            throw CliException.usage("--threads must be >= 1, got " + threads);
        }
    }

    int threads() {
        return threads == null ? MachineInfo.processors() : threads;
    }

    BlockwiseAttention engine(Kernels kernels) {
        return new BlockwiseAttention(kernels, blockQ, blockKv, threads());
    }
}
