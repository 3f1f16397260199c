package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Every command's help renders cleanly: picocli formats descriptions with String.format, and a
 * bare '%' (as in "40% of the heap") makes it print a warning to stderr and show the raw text.
 */
class HelpTextTest {

    @Test
    void everyCommandsHelpFormatsWithoutPicocliWarnings() {
        List<CommandLine> commands = new ArrayList<>();
        collect(new CommandLine(new Main()), commands);
        assertThat(commands).hasSizeGreaterThan(10);
        PrintStream saved = System.err;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            for (CommandLine c : commands) {
                assertThat(c.getUsageMessage()).as(c.getCommandName()).contains("Usage:");
            }
        } finally {
            System.setErr(saved);
        }
        assertThat(err.toString(StandardCharsets.UTF_8)).doesNotContain("picocli WARN");
    }

    private static void collect(CommandLine c, List<CommandLine> into) {
        into.add(c);
        for (CommandLine sub : c.getSubcommands().values()) {
            collect(sub, into);
        }
    }
}
