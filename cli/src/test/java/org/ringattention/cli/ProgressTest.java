package org.ringattention.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

/** The progress bar: drawn only on a terminal, never when piped or quiet. */
class ProgressTest {

    @Test
    void silentWhenNotATerminal() throws InterruptedException {
        StringWriter err = new StringWriter();
        try (Progress p = Progress.start(new PrintWriter(err), "work", 3, false, 0)) {
            p.step("a");
            Thread.sleep(50);
            p.step("b");
        }
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void drawsFramesOnATerminalAfterTheDelay() throws InterruptedException {
        StringWriter err = new StringWriter();
        try (Progress p = Progress.start(new PrintWriter(err), "work", 3, true, 0)) {
            long deadline = System.nanoTime() + 120_000_000_000L; // a hang guard: the bar appears at once
            while (!err.toString().contains("work") && System.nanoTime() < deadline) {
                Thread.sleep(10); // the bar appears from a timer thread
            }
            p.step("case-a");
            p.step("case-b");
        }
        assertThat(err.toString()).startsWith("\r").contains("work").endsWith(System.lineSeparator());
    }

    @Test
    void quickWorkShowsNothingEvenOnATerminal() {
        StringWriter err = new StringWriter();
        // a delay of an hour: a JVM stopped between start and close must not let the bar appear
        try (Progress p = Progress.start(new PrintWriter(err), "work", 1, true, 3_600_000)) {
            p.step("done");
        }
        assertThat(err.toString()).isEmpty();
    }

    @Test
    void terminalDetectionFollowsTheLauncherProperty() {
        String old = System.getProperty(Progress.TERMINAL_PROPERTY);
        try {
            System.setProperty(Progress.TERMINAL_PROPERTY, "true");
            assertThat(Progress.stderrIsTerminal()).isTrue();
            System.setProperty(Progress.TERMINAL_PROPERTY, "false");
            assertThat(Progress.stderrIsTerminal()).isFalse();
            // the commands' own output: nothing on stderr when piped, even with slow work
            CliRun r = CliRun.of("golden", "verify", "--dir", CliRun.goldenDir().toString(), "--case", "window1");
            assertThat(r.code()).isZero();
            assertThat(r.err()).doesNotContain("\r").isEmpty();
            // and with --quiet on a terminal
            System.setProperty(Progress.TERMINAL_PROPERTY, "true");
            CliRun q = CliRun.of("golden", "verify", "--dir", CliRun.goldenDir().toString(), "--case", "tiny_n1_d1",
                    "--quiet");
            assertThat(q.err()).isEmpty();
        } finally {
            if (old == null) {
                System.clearProperty(Progress.TERMINAL_PROPERTY);
            } else {
                System.setProperty(Progress.TERMINAL_PROPERTY, old);
            }
        }
    }
}
