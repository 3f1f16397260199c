package org.ringattention.cli;

import picocli.CommandLine.Option;

/**
 * The problem and repetitions of the overlap sweeps ({@code experiment overlap} and
 * {@code experiment netns-overlap}), in one mixin so that both take them alike: the head
 * dimension, the heads, and the runs per shard size whose medians are taken.
 */
final class SweepOptions {

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "128", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "1", description = "Heads (default"
            + " ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--reps", paramLabel = "R", defaultValue = "3", description = "Runs per size; medians are"
            + " taken (default ${DEFAULT-VALUE}).")
    int reps;

    /** Refuses values below 1, naming the option. */
    void check() {
        if (dim < 1) {
            throw CliException.usage("--head-dim must be >= 1, got " + dim);
        }
        if (heads < 1) {
            throw CliException.usage("--heads must be >= 1, got " + heads);
        }
        if (reps < 1) {
            throw CliException.usage("--reps must be >= 1, got " + reps);
        }
    }
}
