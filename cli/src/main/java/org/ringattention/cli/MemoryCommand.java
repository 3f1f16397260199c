package org.ringattention.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.function.IntToLongFunction;
import org.ringattention.ring.RingReport;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment memory}: memory per device of ring attention against N and P, measured (the
 * device buffers the ring's {@link RingReport} counts, and with --rss the peak resident set of a
 * child JVM per point) beside the paper's Table 1 rows for self-attention in float32 terms. The
 * paper's bytes are bfloat16 (2 per element); in float32 (4 per element), with h = H·d the hidden
 * size, c = ⌈N/P⌉ the block per device, b = 1:
 * <pre>
 *   vanilla                      2·b·n·s²        →  4·H·N²
 *   memory-efficient attention   2·b·s·h + 4·b·c·h  →  4·N·h + 8·c_blk·h   (c_blk: the engine's query block)
 *   Ring Attention               6·b·c·h         →  12·c·h
 * </pre>
 */
@Command(name = "memory", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Memory per device of ring attention against N and P: measured device buffers (query shard,"
            + " running state, results and the two key/value buffers, as the ring reports them; with --rss also"
            + " the peak resident set of a child JVM per point) beside the paper's Table 1 for self-attention in"
            + " float32 (twice its bfloat16 bytes): vanilla 4*H*N^2, memory-efficient 4*N*h + 8*c_blk*h, Ring"
            + " Attention 12*c*h, h = H*d, c = N/P.",
            "Fits the log-log slope of the measured bytes against N at each P (the formula's is 1) and against P"
            + " at each N (the formula's is -1). Full mask, contiguous layout, one forward pass per point.",
            "Writes memory.csv and memory.png to --out."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written or a child JVM failed, 2 bad"
            + " usage."})
final class MemoryCommand implements Callable<Integer> {

    static final String CSV = "memory.csv";
    static final String PNG = "memory.png";
    static final String CSV_HEADER = "n,devices,shard,head_dim,heads,device_bytes,workspace_bytes,"
            + "formula_ring_bytes,formula_memeff_bytes,formula_vanilla_bytes,device_over_formula,peak_rss_bytes";

    @Option(names = "--ns", paramLabel = "N", split = ",", defaultValue = "4096,8192,16384,32768,65536",
            description = "Sequence lengths (default ${DEFAULT-VALUE}).")
    List<Integer> ns;

    @Option(names = "--devices", paramLabel = "P", split = ",", defaultValue = "1,2,4,8", description = "Device"
            + " counts (default ${DEFAULT-VALUE}).")
    List<Integer> devices;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "64", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "1", description = "Heads (default"
            + " ${DEFAULT-VALUE}).")
    int heads;

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--rss", description = "Also measure each point's peak resident set (VmHWM) in a child JVM"
            + " (Linux).")
    boolean rss;

    @Option(names = "--child-heap", paramLabel = "SIZE", defaultValue = "2g", description = "-Xmx of the child"
            + " JVMs (default ${DEFAULT-VALUE}).")
    String childHeap;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for memory.csv and memory.png (default"
            + " results/memory-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--quiet", description = "Print only where the files went.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** One measured point. */
    record Point(int n, int devices, long deviceBytes, long workspaceBytes, long peakRss) {
    }

    @Override
    public Integer call() throws IOException {
        engineOptions.check();
        List<Integer> nList = List.copyOf(new TreeSet<>(ns == null ? List.of() : ns));
        List<Integer> pList = List.copyOf(new TreeSet<>(devices == null ? List.of() : devices));
        if (nList.isEmpty() || nList.get(0) < 1 || pList.isEmpty() || pList.get(0) < 1 || dim < 1 || heads < 1) {
            throw CliException.usage("--ns, --devices, --head-dim and --heads must be >= 1");
        }
        if (pList.get(pList.size() - 1) > nList.get(0)) {
            throw CliException.usage("--devices (" + pList.get(pList.size() - 1) + ") must be at most the shortest"
                    + " --ns (" + nList.get(0) + ")");
        }
        if (!childHeap.matches("[0-9]+[kKmMgG]?")) {
            throw CliException.usage("--child-heap must be a size such as 512m or 2g, got '" + childHeap + "'");
        }
        Path folder = ExperimentFiles.folder(outDir, "memory");
        ExperimentFiles.checkFolder(folder);
        PrintWriter out = spec.commandLine().getOut();

        List<Point> points = new ArrayList<>();
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "memory", (long) nList.size()
                * pList.size(), quiet)) {
            for (int p : pList) {
                for (int n : nList) {
                    points.add(rss ? child(n, p) : inProcess(n, p));
                    progress.step("N = " + n + ", P = " + p);
                }
            }
        }
        ExperimentFiles.write(folder, CSV, csv(points), PNG, chart(points, nList, pList, this::formulaMemEff));
        if (!quiet) {
            table(out, points, nList, pList);
        }
        out.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        out.flush();
        return 0;
    }

    private Point inProcess(int n, int p) {
        RingReport r = MemoryProbe.run(n, p, dim, heads, engineOptions.blockQ, engineOptions.blockKv,
                engineOptions.threads());
        return new Point(n, p, r.maxBytesPerDevice(), r.workspaceBytes(), -1);
    }

    /** Runs the point in a child JVM of this one's runtime and classpath; reads its one result line. */
    private Point child(int n, int p) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx" + childHeap, "--add-modules", "jdk.incubator.vector",
                "-cp", System.getProperty("java.class.path"), MemoryProbe.class.getName(), String.valueOf(n),
                String.valueOf(p), String.valueOf(dim), String.valueOf(heads), String.valueOf(engineOptions.blockQ),
                String.valueOf(engineOptions.blockKv), String.valueOf(engineOptions.threads())));
        Process proc = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String result = null;
        StringBuilder log = new StringBuilder();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(),
                StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith(MemoryProbe.PREFIX + " ")) {
                    result = line;
                } else {
                    log.append(line).append(' ');
                }
            }
        }
        int code;
        try {
            code = proc.waitFor();
        } catch (InterruptedException e) {
            proc.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while the child JVM ran", e);
        }
        if (code != 0 || result == null) {
            throw CliException.data("the child JVM for N = " + n + ", P = " + p + " failed (exit " + code + "): "
                    + log.toString().strip());
        }
        String[] parts = result.split(" ");
        return new Point(n, p, Long.parseLong(parts[1]), 0, Long.parseLong(parts[2]));
    }

    /** The paper's Ring Attention row in float32: 12·c·h bytes, c = ⌈N/P⌉. */
    long formulaRing(int n, int p) {
        return 12L * ceilDiv(n, p) * heads * dim;
    }

    /** Memory-efficient attention in float32: 4·N·h + 8·c_blk·h bytes. */
    long formulaMemEff(int n) {
        return 4L * n * heads * dim + 8L * Math.min(n, engineOptions.blockQ) * heads * dim;
    }

    /** Vanilla attention in float32: 4·H·N² bytes (the scores). */
    long formulaVanilla(int n) {
        return 4L * heads * n * n;
    }

    private String csv(List<Point> points) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (Point pt : points) {
            long ring = formulaRing(pt.n(), pt.devices());
            sb.append(String.format(Locale.ROOT, "%d,%d,%d,%d,%d,%d,%d,%d,%d,%d,%.6g,%s%n", pt.n(), pt.devices(),
                    ceilDiv(pt.n(), pt.devices()), dim, heads, pt.deviceBytes(), pt.workspaceBytes(), ring,
                    formulaMemEff(pt.n()), formulaVanilla(pt.n()), (double) pt.deviceBytes() / ring,
                    pt.peakRss() < 0 ? "" : Long.toString(pt.peakRss())));
        }
        return sb.toString();
    }

    /** Least-squares slope of log y against log x. */
    static double slope(double[] x, double[] y) {
        int m = x.length;
        double sx = 0, sy = 0, sxx = 0, sxy = 0;
        for (int i = 0; i < m; i++) {
            double lx = Math.log(x[i]);
            double ly = Math.log(y[i]);
            sx += lx;
            sy += ly;
            sxx += lx * lx;
            sxy += lx * ly;
        }
        return (m * sxy - sx * sy) / (m * sxx - sx * sx);
    }

    private static List<Point> select(List<Point> points, int n, int p) {
        return points.stream().filter(pt -> (n < 0 || pt.n() == n) && (p < 0 || pt.devices() == p)).toList();
    }

    private void table(PrintWriter out, List<Point> points, List<Integer> nList, List<Integer> pList) {
        out.printf(Locale.ROOT, "experiment memory: d = %d, H = %d, blocks %dx%d; bytes per device (largest device)%n",
                dim, heads, engineOptions.blockQ, engineOptions.blockKv);
        out.printf(Locale.ROOT, "%8s %4s %8s %14s %14s %8s %14s %14s%s%n", "N", "P", "c", "device", "12*c*h", "ratio",
                "mem-eff", "vanilla", rss ? String.format(Locale.ROOT, " %14s", "peak RSS") : "");
        for (Point pt : points) {
            long ring = formulaRing(pt.n(), pt.devices());
            out.printf(Locale.ROOT, "%8d %4d %8d %14d %14d %8.3f %14d %14d%s%n", pt.n(), pt.devices(),
                    ceilDiv(pt.n(), pt.devices()), pt.deviceBytes(), ring, (double) pt.deviceBytes() / ring,
                    formulaMemEff(pt.n()), formulaVanilla(pt.n()), rss ? String.format(Locale.ROOT, " %14d",
                    pt.peakRss()) : "");
        }
        if (nList.size() > 1) {
            for (int p : pList) {
                List<Point> s = select(points, -1, p);
                out.printf(Locale.ROOT, "slope of device bytes against N at P = %d: %.3f (formula: 1)%n", p,
                        slope(s.stream().mapToDouble(Point::n).toArray(),
                                s.stream().mapToDouble(Point::deviceBytes).toArray()));
            }
        }
        if (pList.size() > 1) {
            for (int n : nList) {
                List<Point> s = select(points, n, -1);
                out.printf(Locale.ROOT, "slope of device bytes against P at N = %d: %.3f (formula: -1)%n", n,
                        slope(s.stream().mapToDouble(Point::devices).toArray(),
                                s.stream().mapToDouble(Point::deviceBytes).toArray()));
            }
        }
    }

    /** The chart of {@code points}; {@code memEff} gives the memory-efficient row's bytes at N (it depends on B_q). */
    private Chart chart(List<Point> points, List<Integer> nList, List<Integer> pList, IntToLongFunction memEff) {
        double[] nx = nList.stream().mapToDouble(Integer::doubleValue).toArray();
        Chart c = new Chart(String.format(Locale.ROOT, "Attention memory per device: d = %d, H = %d (float32)", dim,
                heads), "Measured: the ring's device buffers (query shard, state, output, two key/value buffers)."
                + " Formulas: the paper's Table 1 for self-attention, in float32.", "sequence length N (tokens)",
                "bytes per device").legendBeside();
        c.add(new Chart.Series("vanilla, 4 H N^2 (formula)", Chart.BLACK, true, Chart.Marker.NONE, nx,
                nList.stream().mapToDouble(this::formulaVanilla).toArray()));
        c.add(new Chart.Series("memory-efficient, 4 N h + 8 c h (formula)", Chart.GRAY, true, Chart.Marker.NONE, nx,
                nList.stream().mapToDouble(memEff::applyAsLong).toArray()));
        for (int i = 0; i < pList.size(); i++) {
            int p = pList.get(i);
            java.awt.Color color = Chart.PALETTE.get(i % Chart.PALETTE.size());
            List<Point> s = select(points, -1, p);
            c.add(new Chart.Series("ring P = " + p + ", measured", color, false, Chart.Marker.CIRCLE,
                    s.stream().mapToDouble(Point::n).toArray(), s.stream().mapToDouble(Point::deviceBytes).toArray()));
            c.add(new Chart.Series("ring P = " + p + ", 12 c h (formula)", color, true, Chart.Marker.NONE, nx,
                    nList.stream().mapToDouble(n -> formulaRing(n, p)).toArray()));
            if (rss) {
                c.add(new Chart.Series("process peak RSS, P = " + p, color, false, Chart.Marker.SQUARE,
                        s.stream().mapToDouble(Point::n).toArray(), s.stream().mapToDouble(Point::peakRss).toArray()));
            }
        }
        return c;
    }

    /** The chart of a {@link #CSV} this command wrote (for {@code experiment replot}). */
    static Chart chartOf(ExperimentCsv csv) {
        MemoryCommand m = new MemoryCommand();
        m.dim = csv.intAt(0, "head_dim");
        m.heads = csv.intAt(0, "heads");
        List<Point> points = new ArrayList<>();
        Map<Integer, Long> memEff = new HashMap<>();
        for (int i = 0; i < csv.rows(); i++) {
            String rss = csv.at(i, "peak_rss_bytes");
            m.rss |= !rss.isEmpty();
            points.add(new Point(csv.intAt(i, "n"), csv.intAt(i, "devices"), csv.longAt(i, "device_bytes"),
                    csv.longAt(i, "workspace_bytes"), rss.isEmpty() ? -1 : Long.parseLong(rss)));
            memEff.put(csv.intAt(i, "n"), csv.longAt(i, "formula_memeff_bytes"));
        }
        return m.chart(points, List.copyOf(new TreeSet<>(points.stream().map(Point::n).toList())),
                List.copyOf(new TreeSet<>(points.stream().map(Point::devices).toList())), memEff::get);
    }

    private static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
