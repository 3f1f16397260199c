package org.ringattention.cli;

import java.io.PrintWriter;
import org.ringattention.tensor.TensorFileException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The {@code ring-attention} command. Exit codes: 0 success, 1 bad input data, 2 bad usage,
 * 70 an internal error (a bug: please report it with the --verbose output).
 */
@Command(name = "ring-attention", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "Exact blockwise and ring attention on the CPU.",
        subcommands = {DemoCommand.class, AttendCommand.class, BenchCommand.class, GoldenCommand.class,
            CompareCommand.class, VerifyCommand.class, InfoCommand.class, TuneCommand.class, ExperimentCommand.class,
            ModelCommand.class, ConformCommand.class,
            CommandLine.HelpCommand.class},
        footer = {"", "Exit codes: 0 success, 1 bad input data, 2 bad usage, 70 internal error (a bug)."})
public final class Main implements Runnable {

    static final int INTERNAL_ERROR = 70; // EX_SOFTWARE of sysexits.h

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    @Option(names = "--verbose", scope = CommandLine.ScopeType.INHERIT,
            description = "Print the stack trace of an error.")
    boolean verbose;

    public static void main(String[] args) {
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs the command line with the given streams and returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new Main());
        cli.setOut(out);
        cli.setErr(err);
        cli.setParameterExceptionHandler((ex, a) -> {
            CommandLine cmd = ex.getCommandLine();
            err.println("ring-attention: " + ex.getMessage());
            err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help'.");
            return CliException.BAD_USAGE;
        });
        cli.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            boolean verbose = java.util.Arrays.asList(args).contains("--verbose");
            int code;
            String message;
            if (ex instanceof CliException c) {
                code = c.exitCode();
                message = c.getMessage();
            } else if (ex instanceof TensorFileException) {
                code = CliException.BAD_DATA;
                message = ex.getMessage();
            } else if (ex instanceof java.io.IOException io) {
                code = CliException.BAD_DATA;
                message = io.getClass().getSimpleName() + ": " + io.getMessage();
            } else {
                code = INTERNAL_ERROR;
                message = "internal error: " + ex + " (run with --verbose for the stack trace)";
            }
            err.println("ring-attention: " + message);
            if (verbose) {
                ex.printStackTrace(err);
            }
            err.flush();
            return code;
        });
        try {
            return cli.execute(args);
        } catch (OutOfMemoryError e) {
            err.println("ring-attention: out of memory: the inputs are too large for this heap (raise -Xmx through"
                    + " RING_ATTENTION_JAVA_OPTS)");
            err.flush();
            return CliException.BAD_DATA;
        }
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ring-attention " + (v == null ? "(development build)" : v),
                "Java " + Runtime.version() + " (" + System.getProperty("java.vm.name") + ")"};
        }
    }
}
