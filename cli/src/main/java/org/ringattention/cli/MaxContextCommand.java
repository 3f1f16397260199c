package org.ringattention.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment max-context}: the largest sequence that runs within a memory budget, found by
 * running, in the shape of the paper's Table 3 (maximum context of vanilla attention,
 * memory-efficient attention and Ring Attention per device memory). Each point is a child JVM
 * with {@code -Xmx} = the budget ({@link MaxContextProbe}: one causal forward pass, inputs on the
 * heap): vanilla attention (the N × N scores of a head), blockwise attention on one device, and
 * the in-process ring of P devices, whose child gets P budgets (P devices of the budget each, in
 * one heap that also holds the whole inputs). N is doubled from one block until a run fails, then
 * bisected to within 1/16; a run slower than --time-limit counts as failed, so the search is
 * bounded.
 */
@Command(name = "max-context", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The largest N (causal, B = 1) whose forward pass runs within a heap budget, found by running"
            + " child JVMs with -Xmx: vanilla attention (N x N scores), blockwise attention on one device, and the"
            + " in-process ring of P devices with P budgets (one per device). The paper's Table 3 in this engine's"
            + " terms. N is doubled, then bisected to within 1/16.",
            "Writes max-context.csv and max-context.png to --out."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written or a child JVM failed oddly, 2 bad"
            + " usage."})
final class MaxContextCommand implements Callable<Integer> {

    static final String CSV = "max-context.csv";
    static final String PNG = "max-context.png";
    static final String CSV_HEADER = "memory_bytes,method,devices,heap_bytes,max_n,first_failing_n,runs,head_dim,heads";

    @Option(names = "--memory", required = true, paramLabel = "BYTES", split = ",", description = "Budgets per"
            + " device, e.g. 64m,256m,1g (k, m, g: binary prefixes).")
    List<String> memory;

    @Option(names = "--devices", paramLabel = "P", defaultValue = "4", description = "Ring devices (default"
            + " ${DEFAULT-VALUE}).")
    int devices;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "64", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "1", description = "Heads (default ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--max-n", paramLabel = "N", defaultValue = "1048576", description = "Largest N tried (default"
            + " ${DEFAULT-VALUE}).")
    int maxN;

    @Option(names = "--time-limit", paramLabel = "S", defaultValue = "300", description = "Seconds a child may run;"
            + " slower counts as failed (default ${DEFAULT-VALUE}).")
    int timeLimit;

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for max-context.csv and max-context.png"
            + " (default results/max-context-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--quiet", description = "Print only where the files went.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One method's search at one budget. */
    record Row(long memory, String method, int devices, long heap, int maxN, int firstFailing, int runs) {
    }

    /** What one child said. */
    enum Outcome { OK, OUT_OF_MEMORY, TOO_SLOW }

    @Override
    public Integer call() throws IOException {
        engineOptions.check();
        if (devices < 1 || dim < 1 || heads < 1 || maxN < 1 || timeLimit < 1) {
            throw CliException.usage("--devices, --head-dim, --heads, --max-n and --time-limit must be >= 1");
        }
        TreeSet<Long> budgets = new TreeSet<>();
        for (String m : memory) {
            budgets.add(parseBytes(m));
        }
        Path folder = ExperimentFiles.folder(outDir, "max-context");
        ExperimentFiles.checkFolder(folder);
        List<Row> rows = new ArrayList<>();
        String[] methods = {"vanilla", "blockwise", "ring"};
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "max-context",
                (long) budgets.size() * methods.length, quiet)) {
            for (long budget : budgets) {
                for (String method : methods) {
                    int p = method.equals("ring") ? devices : 1;
                    rows.add(search(budget, method, p));
                    progress.step(method + " at " + human(budget));
                }
            }
        }
        ExperimentFiles.write(folder, CSV, csv(rows), PNG, chart(rows, dim, heads, devices));
        PrintWriter out = spec.commandLine().getOut();
        if (!quiet) {
            table(out, rows, budgets);
        }
        out.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        out.flush();
        return 0;
    }

    /** Doubles N from the unit until a run fails (or --max-n), then bisects to within 1/16 of the last good N. */
    private Row search(long budget, String method, int p) throws IOException {
        long heap = budget * p;
        int unit = Math.max(128, p);
        int good = 0;
        int bad = -1;
        int runs = 0;
        for (int n = unit; ; n = (int) Math.min((long) n * 2, maxN)) {
            runs++;
            if (probe(method, n, p, heap) == Outcome.OK) {
                good = n;
                if (n >= maxN) {
                    break;
                }
            } else {
                bad = n;
                break;
            }
        }
        while (bad > 0 && bad - good > Math.max(unit, good / 16)) {
            int mid = (good + bad) / 2 / unit * unit;
            if (mid <= good) {
                break;
            }
            runs++;
            if (probe(method, mid, p, heap) == Outcome.OK) {
                good = mid;
            } else {
                bad = mid;
            }
        }
        return new Row(budget, method, p, heap, good, bad, runs);
    }

    private Outcome probe(String method, int n, int p, long heap) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + heap, "-XX:+UseSerialGC", "--add-modules",
                "jdk.incubator.vector", "-cp", System.getProperty("java.class.path"), MaxContextProbe.class.getName(),
                method, String.valueOf(n), String.valueOf(dim), String.valueOf(heads), String.valueOf(p),
                String.valueOf(engineOptions.blockQ), String.valueOf(engineOptions.blockKv),
                String.valueOf(engineOptions.threads())));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        StringBuilder log = new StringBuilder();
        Thread reader = Thread.ofPlatform().daemon().start(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String line = r.readLine(); line != null; line = r.readLine()) {
                    synchronized (log) {
                        log.append(line).append('\n');
                    }
                }
            } catch (IOException e) {
                // the child is gone
            }
        });
        try {
            if (!proc.waitFor(timeLimit, TimeUnit.SECONDS)) {
                proc.destroyForcibly().waitFor();
                return Outcome.TOO_SLOW;
            }
            reader.join(5000);
        } catch (InterruptedException e) {
            proc.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while waiting for a child JVM", e);
        }
        String text;
        synchronized (log) {
            text = log.toString();
        }
        if (proc.exitValue() == 0 && text.contains(MaxContextProbe.OK)) {
            return Outcome.OK;
        }
        if (text.contains(MaxContextProbe.OOM) || text.contains("OutOfMemoryError")
                || text.contains("Could not reserve enough space") || text.contains("Too small maximum heap")) {
            return Outcome.OUT_OF_MEMORY;
        }
        throw CliException.data("a child JVM (" + method + ", N = " + n + ", -Xmx" + heap + ") failed with exit code "
                + proc.exitValue() + ": " + text.strip().lines().reduce((a, b) -> b).orElse("no output"));
    }

    static long parseBytes(String s) {
        String t = s.strip().toLowerCase(Locale.ROOT);
        long f = 1;
        if (t.endsWith("k") || t.endsWith("m") || t.endsWith("g")) {
            f = switch (t.charAt(t.length() - 1)) {
                case 'k' -> 1L << 10;
                case 'm' -> 1L << 20;
                default -> 1L << 30;
            };
            t = t.substring(0, t.length() - 1);
        }
        try {
            long v = Long.parseLong(t) * f;
            if (v < (4L << 20)) {
                throw CliException.usage("--memory " + s + ": at least 4m (a JVM's smallest useful heap)");
            }
            return v;
        } catch (NumberFormatException e) {
            throw CliException.usage("--memory must be sizes such as 64m or 1g, got '" + s + "'");
        }
    }

    static String human(long bytes) {
        return bytes % (1L << 30) == 0 ? (bytes >> 30) + " GiB" : bytes % (1L << 20) == 0 ? (bytes >> 20) + " MiB"
                : (bytes >> 10) + " KiB";
    }

    private String csv(List<Row> rows) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (Row r : rows) {
            sb.append(r.memory()).append(',').append(r.method()).append(',').append(r.devices()).append(',')
                    .append(r.heap()).append(',').append(r.maxN()).append(',').append(r.firstFailing()).append(',')
                    .append(r.runs()).append(',').append(dim).append(',').append(heads).append('\n');
        }
        return sb.toString();
    }

    /** Table 3's shape: a row per budget, a column per method, and the ring's gain over blockwise. */
    private void table(PrintWriter out, List<Row> rows, TreeSet<Long> budgets) {
        out.printf("Maximum context (causal, d = %d, H = %d; N found by running, '>' = the --max-n cap ran):%n", dim,
                heads);
        out.printf("%-12s %12s %14s %16s %10s%n", "memory", "vanilla", "blockwise", "ring (P = " + devices + ")",
                "ring/blk");
        for (long b : budgets) {
            Row van = find(rows, b, "vanilla");
            Row blk = find(rows, b, "blockwise");
            Row ring = find(rows, b, "ring");
            out.printf("%-12s %12s %14s %16s %9.1fx%n", human(b), n(van), n(blk), n(ring),
                    blk.maxN() == 0 ? Double.NaN : ring.maxN() / (double) blk.maxN());
        }
    }

    private static String n(Row r) {
        return (r.firstFailing() < 0 ? ">" : "") + r.maxN();
    }

    private static Row find(List<Row> rows, long budget, String method) {
        return rows.stream().filter(r -> r.memory() == budget && r.method().equals(method)).findFirst().orElseThrow();
    }

    /** The chart of {@code rows} (budgets on x, a series per method), of a run or of a CSV read back. */
    static Chart chart(List<Row> rows, int dim, int heads, int devices) {
        TreeSet<Long> budgets = new TreeSet<>();
        rows.forEach(r -> budgets.add(r.memory()));
        Chart c = new Chart("Maximum context within a memory budget (causal, d = " + dim + ", H = " + heads + ")",
                "Each point: the largest N whose forward pass ran in a child JVM with -Xmx = budget (the ring: P"
                        + " budgets); doubling, then bisection to 1/16.", "memory per device (MiB)", "max N (tokens)");
        String[] methods = {"vanilla", "blockwise", "ring"};
        java.awt.Color[] colors = {Chart.RED, Chart.BLUE, Chart.GREEN};
        for (int m = 0; m < methods.length; m++) {
            double[] x = new double[budgets.size()];
            double[] y = new double[budgets.size()];
            int i = 0;
            for (long b : budgets) {
                x[i] = b / (double) (1 << 20);
                y[i++] = find(rows, b, methods[m]).maxN();
            }
            String name = methods[m].equals("ring") ? "ring attention, P = " + devices
                    : methods[m].equals("blockwise") ? "blockwise (one device)" : "vanilla (N x N scores)";
            c.add(new Chart.Series(name, colors[m], false, Chart.Marker.CIRCLE, x, y));
        }
        return c;
    }

    /** The chart of a {@link #CSV} this command wrote (for {@code experiment replot}). */
    static Chart chartOf(ExperimentCsv csv) {
        List<Row> rows = new ArrayList<>();
        int devices = 1;
        for (int i = 0; i < csv.rows(); i++) {
            Row r = new Row(csv.longAt(i, "memory_bytes"), csv.at(i, "method"), csv.intAt(i, "devices"),
                    csv.longAt(i, "heap_bytes"), csv.intAt(i, "max_n"), csv.intAt(i, "first_failing_n"),
                    csv.intAt(i, "runs"));
            rows.add(r);
            devices = r.method().equals("ring") ? r.devices() : devices;
        }
        return chart(rows, csv.intAt(0, "head_dim"), csv.intAt(0, "heads"), devices);
    }
}
