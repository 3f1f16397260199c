package org.ringattention.cli;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import org.ringattention.bench.MachineInfo;
import org.ringattention.bench.WarmupRule;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.LinkModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment overlap}: sweeps the shard size c under a simulated link and sets the measured
 * step time against max(compute, transfer) and the crossover c* of {@link OverlapModel}.
 */
@Command(name = "overlap", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sweeps the shard size c under a simulated link: step time against max(compute, transfer).",
            "The paper's overlap argument: a ring step computes 4*c^2*d*H FLOPs and sends"
            + " K and V (8*c*d*H bytes), so sending hides behind computing from c* = 2*F/B on (F: FLOP/s of one"
            + " device, B: link bytes/s; with --latency L the root of 4*c^2*d*H/F = L + 8*c*d*H/B).",
            "Runs the ring forward pass (full mask, P devices sharing --threads workers, so F is the machine's"
            + " FLOP/s over P) with N = P*c for every shard size c, the sizes round-robin --reps times, and takes"
            + " medians over the steps that send (0..P-2) of every device and repetition: compute, transfer, wait,"
            + " and step time = compute + wait. The model's F is the sweep's own median compute at the swept size"
            + " nearest the geometric middle sqrt(min * max); --bandwidth auto measures it once before the sweep"
            + " too (unthrottled) to choose B. A warm-up comes first: one run at every size, then runs at the"
            + " largest until two agree.",
            "c is the ring's per-device block (N / P), not the engine's tiles --block-q and --block-kv.",
            "Writes overlap.csv and overlap.png to --out; both replace earlier files only when both are written."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written, 2 bad usage."})
final class OverlapCommand implements Callable<Integer> {

    /** Step time within this fraction of compute time counts as sending hidden. */
    static final double TOLERANCE = 0.10;

    static final String CSV = "overlap.csv";
    static final String PNG = "overlap.png";
    static final String CSV_HEADER = "shard_c,n,devices,threads,head_dim,heads,bandwidth_bytes_per_s,latency_s,"
            + "bytes_per_step,compute_ms,transfer_ms,wait_ms,step_ms,max_compute_transfer_ms,model_transfer_ms,"
            + "overlap,gflops_per_device,calibrated_gflops_per_device,model_gflops_per_device,model_c,"
            + "predicted_crossover_c";

    // 4, not 2: step 0 also pays for starting the ring's threads (with the cores busy computing, a new
    // link thread waits for one); with P = 4 it is one of three sending steps and the median drops it.
    @Option(names = "--devices", paramLabel = "P", defaultValue = "4", description = "Simulated devices in the ring"
            + " (default ${DEFAULT-VALUE}; at least 2). With P = 2 the only step that sends is the first, which also"
            + " pays for starting the ring's threads.")
    int devices;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    SweepOptions sweepOptions;

    @Option(names = "--shards", paramLabel = "C", split = ",", defaultValue = "128,256,512,1024,2048,4096",
            description = "Shard sizes c to sweep, comma-separated (default ${DEFAULT-VALUE}).")
    List<Integer> shards;

    @Option(names = "--bandwidth", paramLabel = "BYTES_PER_S|auto", defaultValue = "auto", description = "Link"
            + " bandwidth in bytes/s (e.g. 2e8), or auto (default): measure F, then put c* at the geometric middle"
            + " of the sweep.")
    String bandwidth;

    @Option(names = "--latency", paramLabel = "SECONDS", defaultValue = "0", description = "Link latency per hop"
            + " in seconds (default ${DEFAULT-VALUE}).")
    double latency;

    @Option(names = "--warmup-ms", paramLabel = "MS", defaultValue = "1000", description = "After one unthrottled"
            + " run at every size, warm up at the largest size for at least this long, 20 runs and until two runs"
            + " agree within 10%%, for at most 10 times this long (default ${DEFAULT-VALUE}; 0: no further runs).")
    int warmupMillis;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for overlap.csv and overlap.png (default"
            + " results/overlap-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--quiet", description = "No progress bar and no table; print only the summary.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private PrintWriter stdout;
    private PrintWriter table;
    private OverlapSweep sweep;

    @Override
    public Integer call() throws IOException {
        engineOptions.check();
        List<Integer> sizes = List.copyOf(new TreeSet<>(shards == null ? List.of() : shards));
        double fixedBandwidth = validate(sizes);
        Path folder = ExperimentFiles.folder(outDir, "overlap");
        ExperimentFiles.checkFolder(folder);

        int threads = engineOptions.threads();
        Kernels kernels = Kernels.preferred();
        OverlapModel model = new OverlapModel(sweepOptions.dim, sweepOptions.heads);
        sweep = new OverlapSweep(kernels, engineOptions.blockQ, engineOptions.blockKv, threads, devices, model);
        stdout = spec.commandLine().getOut();
        table = quiet ? new PrintWriter(OutputStream.nullOutputStream()) : stdout;
        String cpu = MachineInfo.cpuModel();
        table.printf(Locale.ROOT, "experiment overlap: P = %d devices, d = %d, H = %d, %d thread%s, %s kernels,"
                + " blocks %dx%d%n", devices, sweepOptions.dim, sweepOptions.heads, threads, plural(threads),
                kernels.name(), engineOptions.blockQ, engineOptions.blockKv);
        table.printf(Locale.ROOT, "cpu: %s (%d processors), java %s%n", cpu, MachineInfo.processors(),
                MachineInfo.javaVersion());
        table.flush();

        double middle = Math.sqrt((double) sizes.get(0) * sizes.get(sizes.size() - 1));
        int modelC = nearest(sizes, middle);
        boolean auto = Double.isNaN(fixedBandwidth);
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "overlap", sizes.size() * sweepOptions.reps
                + (auto ? 2 : 1), quiet)) {
            warmUp(sizes);
            progress.step("warm-up");
            double calibrated = auto ? calibrate(modelC, middle, model) : Double.NaN;
            double b = auto ? model.bandwidthFor(middle, calibrated, latency) : fixedBandwidth;
            if (auto) {
                progress.step("F");
            }
            stdout.printf(Locale.ROOT, "bandwidth B = %.4g bytes/s (%.1f MB/s)%s, latency %s s%n", b, b / 1e6,
                    auto ? String.format(Locale.ROOT, ", chosen so that c* = 2F/B = %.0f, the sweep's geometric"
                    + " middle", middle) : "", latency);
            stdout.flush();

            List<OverlapSweep.Row> rows = sweepSizes(sizes, new LinkModel(b, latency), progress);
            // F from the sweep itself: the same work, measured interleaved with all other sizes
            double f = rows.get(sizes.indexOf(modelC)).flopsPerSecond();
            double predicted = model.crossover(f, b, latency);
            double crossing = OverlapSweep.crossing(rows);
            int hidden = OverlapSweep.hiddenFrom(rows, TOLERANCE);
            stdout.printf(Locale.ROOT, "predicted crossover c* = %s = %.0f, with F = %.4g GFLOP/s per device (the"
                    + " sweep's median compute at c = %d)%n", latency == 0 ? "2F/B" : "root of compute = transfer",
                    predicted, f / 1e9, modelC);
            stdout.printf(Locale.ROOT, "measured crossover: compute = transfer at c = %s; step within %.0f%% of"
                    + " compute %s%n", Double.isNaN(crossing) ? "(no crossing within the sweep)"
                    : String.format(Locale.ROOT, "%.0f (log-log interpolation)", crossing), 100 * TOLERANCE,
                    hidden < 0 ? "at no size up to the largest" : "from c = " + hidden + " on");
            stdout.flush();

            String title = String.format(Locale.ROOT, "Ring attention overlap: P = %d, d = %d, H = %d, B = %.1f MB/s%s",
                    devices, sweepOptions.dim, sweepOptions.heads, b / 1e6,
                    latency == 0 ? "" : ", latency " + latency + " s");
            String subtitle = String.format(Locale.ROOT, "%s, %d thread%s, %s kernels; F = %.3g GFLOP/s per device"
                    + " at c = %d; medians of %d run%s", cpu, threads, plural(threads), kernels.name(), f / 1e9,
                    modelC, sweepOptions.reps, plural(sweepOptions.reps));
            ExperimentFiles.write(folder, CSV,
                    csv(rows, threads, b, new Prediction(calibrated, f, modelC, predicted), model),
                    PNG, OverlapChart.of(rows, title, subtitle, predicted, crossing));
        }
        stdout.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        stdout.flush();
        return 0;
    }

    /**
     * F for {@code --bandwidth auto}: the median per-device FLOP/s of unthrottled runs at {@code c};
     * refuses a latency that leaves no bandwidth to put c* at {@code middle}.
     */
    private double calibrate(int c, double middle, OverlapModel model) {
        double f = sweep.measure(c, LinkModel.UNTHROTTLED, sweepOptions.reps).flopsPerSecond();
        if (Double.isNaN(model.bandwidthFor(middle, f, latency))) {
            throw CliException.usage(String.format(Locale.ROOT, "--latency %s s is longer than a step at c = %.0f"
                    + " takes to compute (%.3g ms), so no --bandwidth auto puts c* there; give --bandwidth", latency,
                    middle, model.flops(Math.round(middle)) / f * 1e3));
        }
        stdout.printf(Locale.ROOT, "calibration: F = %.4g GFLOP/s per device (median, unthrottled, c = %d)%n",
                f / 1e9, c);
        return f;
    }

    /**
     * Unthrottled runs, so that the JIT has compiled the kernels before anything counts: one at
     * every size (each shape's tails are compiled too, not deoptimized in a timed run), then at the
     * largest size until {@link #warmingUp} says it has settled.
     */
    private void warmUp(List<Integer> sizes) {
        long start = System.nanoTime();
        for (int c : sizes) {
            sweep.measure(c, LinkModel.UNTHROTTLED, 1);
        }
        int largest = sizes.get(sizes.size() - 1);
        int runs = 0;
        double previous = Double.NaN;
        double last = Double.NaN;
        while (warmingUp(runs, (System.nanoTime() - start) / 1e6, previous, last)) {
            previous = last;
            last = sweep.measure(largest, LinkModel.UNTHROTTLED, 1).computeMs();
            runs++;
        }
        table.printf(Locale.ROOT, "warm-up: one unthrottled run at every size, then %d at c = %d; %.1f s%n", runs,
                largest, (System.nanoTime() - start) / 1e9);
    }

    /** Measures every size over {@code link} and prints a table row for each. */
    private List<OverlapSweep.Row> sweepSizes(List<Integer> sizes, LinkModel link, Progress progress) {
        List<OverlapSweep.Row> rows = sweep.measure(sizes, link, sweepOptions.reps, () -> progress.step("sweep"));
        String head = "%7s %8s %11s %11s %9s %9s %11s %9s %8s %9s%n";
        table.printf(Locale.ROOT, head, "c", "N", "compute_ms", "transfer_ms", "wait_ms", "step_ms", "max(c,t)_ms",
                "step/max", "overlap", "GFLOP/s");
        for (OverlapSweep.Row r : rows) {
            table.printf(Locale.ROOT, "%7d %8d %11.4f %11.4f %9.4f %9.4f %11.4f %9.3f %8.3f %9.3g%n", r.c(), r.n(),
                    r.computeMs(), r.transferMs(), r.waitMs(), r.stepMs(), r.maxComputeTransferMs(),
                    r.stepMs() / r.maxComputeTransferMs(), r.overlap(), r.flopsPerSecond() / 1e9);
        }
        table.flush();
        return rows;
    }

    /** The size nearest {@code c} on a log scale (the larger one on a tie). */
    static int nearest(List<Integer> sizes, double c) {
        int best = sizes.get(0);
        for (int size : sizes) {
            if (Math.abs(Math.log(size / c)) <= Math.abs(Math.log(best / c)) + 1e-9) {
                best = size;
            }
        }
        return best;
    }

    private static String plural(int n) {
        return n == 1 ? "" : "s";
    }

    /** Checks the options; returns the fixed bandwidth, or NaN for auto. */
    private double validate(List<Integer> sizes) {
        if (devices < 2) {
            throw CliException.usage("--devices must be >= 2 (a ring of one device sends nothing), got " + devices);
        }
        if (sizes.isEmpty()) {
            throw CliException.usage("--shards needs at least one size");
        }
        if (sizes.get(0) < 1) {
            throw CliException.usage("--shards sizes must be >= 1, got " + sizes.get(0));
        }
        sweepOptions.check();
        long elements = (long) devices * sizes.get(sizes.size() - 1) * sweepOptions.dim * sweepOptions.heads;
        if (elements > Integer.MAX_VALUE - 8) {
            throw CliException.usage("--devices x largest --shards x --head-dim x --heads (" + elements + ") must be"
                    + " below 2^31 elements per tensor");
        }
        if (!(latency >= 0) || Double.isInfinite(latency)) {
            throw CliException.usage("--latency must be >= 0 seconds and finite, got " + latency);
        }
        if (warmupMillis < 0) {
            throw CliException.usage("--warmup-ms must be >= 0, got " + warmupMillis);
        }
        if (bandwidth.strip().equalsIgnoreCase("auto")) {
            return Double.NaN;
        }
        double b;
        try {
            b = Double.parseDouble(bandwidth.strip());
        } catch (NumberFormatException e) {
            b = Double.NaN;
        }
        if (!(b > 0) || Double.isInfinite(b)) {
            throw CliException.usage("--bandwidth must be a positive number of bytes/s or auto, got '" + bandwidth
                    + "'");
        }
        return b;
    }

    /**
     * Whether to warm up further: until {@code --warmup-ms} have passed, {@code runs} has reached
     * {@link WarmupRule#JIT_RUNS} (tiered compilation counts calls) and the last two runs'
     * compute times are within 10% of each other (compiled code settled), for at most 10 ×
     * {@code --warmup-ms}; with 0, none.
     */
    private boolean warmingUp(int runs, double elapsedMillis, double previous, double last) {
        if (warmupMillis == 0 || elapsedMillis >= 10.0 * warmupMillis) {
            return false;
        }
        return elapsedMillis < warmupMillis || runs < WarmupRule.JIT_RUNS
                || !(Math.max(previous, last) <= 1.1 * Math.min(previous, last));
    }

    /**
     * What the model predicted: c* from F (FLOP/s per device) measured at shard size c, and the F
     * that chose the bandwidth (NaN unless --bandwidth auto).
     */
    private record Prediction(double calibratedF, double f, int c, double crossover) {
    }

    private String csv(List<OverlapSweep.Row> rows, int threads, double b, Prediction p, OverlapModel model) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        LinkModel link = new LinkModel(b, latency);
        String calibrated = Double.isNaN(p.calibratedF()) ? "" : String.format(Locale.ROOT, "%.6g",
                p.calibratedF() / 1e9);
        for (OverlapSweep.Row r : rows) {
            sb.append(String.format(Locale.ROOT, "%d,%d,%d,%d,%d,%d,%.6g,%.6g,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,"
                    + "%.6g,%s,%.6g,%d,%.6g\n", r.c(), r.n(), devices, threads, sweepOptions.dim, sweepOptions.heads,
                    b, latency, r.bytes(),
                    r.computeMs(), r.transferMs(), r.waitMs(), r.stepMs(), r.maxComputeTransferMs(),
                    link.nanosFor(model.bytes(r.c())) / 1e6, r.overlap(), r.flopsPerSecond() / 1e9, calibrated,
                    p.f() / 1e9, p.c(), p.crossover()));
        }
        return sb.toString();
    }

}
