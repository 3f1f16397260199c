package org.ringattention.cli;

import java.io.PrintWriter;
import java.util.Optional;
import org.ringattention.attention.BlockSizes;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.bench.MachineInfo;
import org.ringattention.kernel.Kernels;
import picocli.CommandLine.Option;

/**
 * The options that set up the engine, shared by the commands that run it: block sizes and
 * threads. The ring's options are {@link RingOptions}.
 *
 * <p>Block sizes: the ones given; when neither is given, commands that know the shape
 * ({@code attend}, {@code bench}) take the ones {@code tune --save} saved for this CPU and shape
 * ({@link #useTuned}, {@link TuningFile}), else those of {@link BlockSizes#defaultFor} for the
 * head dimension and pass; commands that do not know the shape use {@value #DEFAULT_BLOCK}. The
 * sizes change only the speed and the rounding of the result, never its contract; the same sizes
 * give the same bits.
 */
final class EngineOptions {

    static final int DEFAULT_BLOCK = BlockSizes.DEFAULT;

    @Option(names = "--block-q", paramLabel = "N", description = "Query block size (default: the size `tune --save`"
            + " saved for this CPU and shape, else the rule of `info` for the head dimension; any size >= 1).")
    Integer blockQGiven;

    @Option(names = "--block-kv", paramLabel = "N", description = "Key/value block size (default: the size `tune"
            + " --save` saved for this CPU and shape, else the rule of `info` for the head dimension; any size"
            + " >= 1).")
    Integer blockKvGiven;

    @Option(names = "--threads", paramLabel = "T", description = "Worker threads (default: the available"
            + " processors); results are the same bits for any number. With --devices, the threads all devices"
            + " share.")
    Integer threads;

    /** The block sizes in use: given, tuned or the default. */
    int blockQ = DEFAULT_BLOCK;
    int blockKv = DEFAULT_BLOCK;

    /** Where they come from: "given", "default" or "tuned (file)". */
    String blockSource = "default";

    /** Refuses values the engine cannot use, naming the option. */
    void check() {
        if (blockQGiven != null && blockQGiven < 1) {
            throw CliException.usage("--block-q must be >= 1, got " + blockQGiven);
        }
        if (blockKvGiven != null && blockKvGiven < 1) {
            throw CliException.usage("--block-kv must be >= 1, got " + blockKvGiven);
        }
        if (threads != null && threads < 1) {
            throw CliException.usage("--threads must be >= 1, got " + threads);
        }
        if (blockQGiven != null || blockKvGiven != null) {
            blockQ = blockQGiven == null ? DEFAULT_BLOCK : blockQGiven;
            blockKv = blockKvGiven == null ? DEFAULT_BLOCK : blockKvGiven;
            blockSource = "given";
        }
    }

    /**
     * When no block size was given, takes the tuned ones for this CPU and shape class, if saved,
     * else the default rule's for the head dimension and pass; a tuning file that cannot be read is
     * a one-line warning on {@code err}, not a failure.
     */
    void useTuned(int headDim, boolean causal, boolean backward, PrintWriter err) {
        if (blockQGiven != null || blockKvGiven != null) {
            return;
        }
        BlockSizes rule = BlockSizes.defaultFor(headDim, backward);
        blockQ = rule.blockQ();
        blockKv = rule.blockKv();
        blockSource = "default for d = " + headDim;
        Optional<TuningFile.Entry> tuned = TuningFile.lookup(headDim, causal, backward, w -> {
            err.println("ring-attention: " + w);
            err.flush();
        });
        tuned.ifPresent(e -> {
            blockQ = e.blockQ();
            blockKv = e.blockKv();
            blockSource = "tuned (" + TuningFile.path() + ")";
        });
    }

    int threads() {
        return threads == null ? MachineInfo.processors() : threads;
    }

    BlockwiseAttention engine(Kernels kernels) {
        return new BlockwiseAttention(kernels, blockQ, blockKv, threads());
    }
}
