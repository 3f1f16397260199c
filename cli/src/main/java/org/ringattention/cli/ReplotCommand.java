package org.ringattention.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.function.Function;
import org.ringattention.tensor.StagedFiles;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * {@code experiment replot DIR...}: redraws the PNG of an experiment's results folder from its CSV,
 * through the same chart code as the run, so a change to the charts reaches earlier results
 * without rerunning experiments that take minutes of child JVMs. The CSV is not touched.
 */
@Command(name = "replot", mixinStandardHelpOptions = true,
        description = {"Redraws the chart of experiment results folders from their CSV (max-context.csv,"
            + " memory.csv, overlap.csv, netns-overlap.csv) without rerunning the experiment; the CSV is left as it is."},
        footer = {"", "Exit codes: 0 success, 1 a CSV cannot be read or the PNG cannot be written, 2 bad usage."})
final class ReplotCommand implements Callable<Integer> {

    /** An experiment whose chart can be drawn from its CSV alone. */
    private record Redrawable(String csv, String png, Function<ExperimentCsv, Chart> chart) {
    }

    private static final List<Redrawable> KINDS = List.of(
            new Redrawable(MaxContextCommand.CSV, MaxContextCommand.PNG, MaxContextCommand::chartOf),
            new Redrawable(MemoryCommand.CSV, MemoryCommand.PNG, MemoryCommand::chartOf),
            new Redrawable(OverlapCommand.CSV, OverlapCommand.PNG, OverlapChart::chartOf),
            new Redrawable(NetnsOverlapCommand.CSV, NetnsOverlapCommand.PNG, NetnsOverlapCommand::chartOf));

    @Parameters(paramLabel = "DIR", arity = "1..*", description = "Results folders, e.g."
            + " results/max-context-2026-12-02.")
    List<Path> folders;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        for (Path folder : folders) {
            Redrawable kind = KINDS.stream().filter(k -> Files.isRegularFile(folder.resolve(k.csv()))).findFirst()
                    .orElseThrow(() -> CliException.usage(folder + ": has none of " + String.join(", ",
                            KINDS.stream().map(Redrawable::csv).toList())));
            Chart chart = kind.chart().apply(ExperimentCsv.read(folder.resolve(kind.csv())));
            try (StagedFiles staged = new StagedFiles()) {
                staged.stage(folder.resolve(kind.png()), chart::writePng);
                staged.commit();
            }
            spec.commandLine().getOut().printf("redrew %s from %s%n", folder.resolve(kind.png()),
                    folder.resolve(kind.csv()));
        }
        spec.commandLine().getOut().flush();
        return 0;
    }
}
