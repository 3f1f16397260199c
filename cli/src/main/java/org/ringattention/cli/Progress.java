package org.ringattention.cli;

import java.io.PrintWriter;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarConsumer;
import me.tongfei.progressbar.ProgressBarStyle;

/**
 * A progress bar on stderr (me.tongfei:progressbar) for work that takes a while: it appears only
 * when stderr is a terminal, {@code --quiet} was not given, and the work is still running after
 * {@link #DELAY_MILLIS}; otherwise nothing is printed at all. Thread-safe.
 *
 * <p>Whether stderr is a terminal: the launcher script runs the JVM with stderr piped through a
 * filter, so the JVM cannot see it; the script tests {@code [ -t 2 ]} itself and passes the answer
 * as the system property {@value #TERMINAL_PROPERTY} (and the width as {@value #COLUMNS_PROPERTY}).
 * Without the property (the jar run by hand), stderr counts as a terminal when
 * {@link System#console()} is a terminal. The bar writes to the command's stderr writer with a
 * fixed width, so the library never probes the terminal itself.
 */
final class Progress implements AutoCloseable {

    /** "true" or "false": whether stderr is a terminal; set by the launcher. */
    static final String TERMINAL_PROPERTY = "ring-attention.stderr.terminal";
    /** Terminal width in columns; set by the launcher when it knows it. */
    static final String COLUMNS_PROPERTY = "ring-attention.columns";

    /** Work that finishes sooner than this shows no bar. */
    static final long DELAY_MILLIS = 1000;

    private static final Progress NONE = new Progress(null, "", 0, 0, null, null, 1);

    private final PrintWriter err;
    private final String task;
    private final long max;
    private final ScheduledExecutorService timer;
    private final String unit;
    private final long unitSize;
    private ProgressBar bar;
    private long done;
    private String message = "";
    private boolean closed;

    private Progress(PrintWriter err, String task, long max, long delayMillis, ScheduledExecutorService timer,
            String unit, long unitSize) {
        this.err = err;
        this.unit = unit;
        this.unitSize = unitSize;
        this.task = task;
        this.max = max;
        this.timer = timer;
        if (timer != null) {
            timer.schedule(this::show, delayMillis, TimeUnit.MILLISECONDS);
        }
    }

    /** A bar for {@code max} steps, shown if stderr is a terminal and not {@code quiet}. */
    static Progress start(PrintWriter err, String task, long max, boolean quiet) {
        return start(err, task, max, !quiet && stderrIsTerminal(), DELAY_MILLIS, null, 1);
    }

    /** A bar for {@code max} steps counted in {@code unit}s of {@code unitSize} steps (e.g. " GFLOP", 10^9), with the rate. */
    static Progress start(PrintWriter err, String task, long max, boolean quiet, String unit, long unitSize) {
        return start(err, task, max, !quiet && stderrIsTerminal(), DELAY_MILLIS, unit, unitSize);
    }

    /** A bar shown after {@code delayMillis} if {@code enabled}; for tests. */
    static Progress start(PrintWriter err, String task, long max, boolean enabled, long delayMillis) {
        return start(err, task, max, enabled, delayMillis, null, 1);
    }

    /** {@link #start(PrintWriter, String, long, boolean, long)} with a unit and the rate when {@code unit} is not null. */
    static Progress start(PrintWriter err, String task, long max, boolean enabled, long delayMillis, String unit,
            long unitSize) {
        if (!enabled) {
            return NONE;
        }
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "progress-delay");
            t.setDaemon(true);
            return t;
        });
        return new Progress(err, task, max, delayMillis, timer, unit, unitSize);
    }

    /** Whether stderr is a terminal, as described in the class comment. */
    static boolean stderrIsTerminal() {
        String p = System.getProperty(TERMINAL_PROPERTY);
        if (p != null) {
            return Boolean.parseBoolean(p);
        }
        java.io.Console c = System.console();
        return c != null && c.isTerminal();
    }

    /** One more step done; {@code what} is shown beside the bar. */
    synchronized void step(String what) {
        if (timer == null) {
            return;
        }
        done++;
        message = what;
        if (bar != null) {
            bar.stepTo(done);
            bar.setExtraMessage(what);
        }
    }

    /** {@code n} more steps done (no new message). */
    synchronized void stepBy(long n) {
        if (timer == null) {
            return;
        }
        done += n;
        if (bar != null) {
            bar.stepTo(done);
        }
    }

    /** Shows {@code what} beside the bar. */
    synchronized void message(String what) {
        if (timer == null) {
            return;
        }
        message = what;
        if (bar != null) {
            bar.setExtraMessage(what);
        }
    }

    private synchronized void show() {
        if (closed) {
            return;
        }
        ProgressBarBuilder b = new ProgressBarBuilder();
        if (unit != null) {
            b.setUnit(unit, unitSize).showSpeed(new java.text.DecimalFormat("0.0"));
        }
        bar = b
                .setTaskName(task)
                .setInitialMax(max)
                .setStyle(ProgressBarStyle.ASCII)
                .setUpdateIntervalMillis(250)
                .continuousUpdate()
                .setConsumer(new WriterConsumer(err, width()))
                .build();
        bar.stepTo(done);
        bar.setExtraMessage(message);
    }

    private static int width() {
        try {
            int w = Integer.parseInt(System.getProperty(COLUMNS_PROPERTY, "80").strip());
            if (w <= 0) {
                return 79; // unknown (a pseudo-terminal without a size)
            }
            return Math.max(40, Math.min(w, 200)) - 1;
        } catch (NumberFormatException e) {
            return 79;
        }
    }

    @Override
    public synchronized void close() {
        if (timer == null || closed) {
            return;
        }
        closed = true;
        timer.shutdownNow();
        if (bar != null) {
            bar.close();
        }
    }

    /** Draws the bar on a writer: each frame starts with a carriage return; a newline at the end. */
    private static final class WriterConsumer implements ProgressBarConsumer {
        private final PrintWriter out;
        private final int width;

        WriterConsumer(PrintWriter out, int width) {
            this.out = out;
            this.width = width;
        }

        @Override
        public int getMaxRenderedLength() {
            return width;
        }

        @Override
        public void accept(String rendered) {
            String line = rendered.length() > width ? rendered.substring(0, width) : rendered;
            out.print('\r' + line);
            out.flush();
        }

        @Override
        public void close() {
            out.println();
            out.flush();
        }
    }
}
