package org.ringattention.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code experiment NAME}: experiments that reproduce a claim of the ring attention paper. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = {"Experiments that reproduce a claim of the ring attention paper (Liu, Zaharia, Abbeel) on"
            + " simulated devices, with a CSV and a PNG chart of the results."},
        subcommands = {OverlapCommand.class, NetnsOverlapCommand.class, MinBlockCommand.class, PrecisionCommand.class,
            MemoryCommand.class, MaxContextCommand.class, ReplotCommand.class})
final class ExperimentCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
