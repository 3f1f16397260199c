package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ringattention.bench.MachineInfo;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.LinkModel;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment min-block}: the paper's Table 2 (the smallest block that hides sending behind
 * computing, c = F/B, and the minimal sequence per device s = 6c) recomputed from the FLOPS and
 * bandwidths the paper states, beside this machine's devices: F and B measured on the in-process
 * ring. The paper counts bfloat16 blocks (K and V: 4·c·d bytes against 4·d·c² FLOPs); this engine
 * sends float32 (8·c·d bytes), so its own smallest block is c = 2F/B.
 */
@Command(name = "min-block", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"The paper's Table 2 (minimal block size c = F/B and minimal sequence length 6c per device)"
            + " recomputed from its stated FLOPS and interconnect bandwidths, beside this CPU's devices with F and B"
            + " measured on the in-process ring.",
            "A ring step computes 4*d*c^2 FLOPs and sends K and V: 4*c*d bytes in bfloat16 (the paper), 8*c*d in"
            + " float32 (this engine), so sending hides behind computing from c = F/B (bfloat16) or 2F/B"
            + " (float32) on.",
            "The measurement: a short unthrottled ring forward run (P devices sharing --threads workers, full"
            + " mask, shard size --shard), medians over the steps that send: F = 4*d*c^2*H / compute time per"
            + " device, B = bytes sent / transfer time of a hop.",
            "Writes min-block.csv and min-block.png to --out."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written, 2 bad usage."})
final class MinBlockCommand implements Callable<Integer> {

    static final String CSV = "min-block.csv";
    static final String PNG = "min-block.png";
    static final String CSV_HEADER = "host,source,flops_tflops,hbm_gb,bandwidth_gb_s,bytes_per_element,"
            + "paper_min_block_k,paper_min_seq_k,min_block,min_seq,min_block_float32,min_seq_float32";

    /** One host of the paper's Table 2, as the paper states it (×10³ for its block and sequence). */
    record PaperHost(String name, double teraflops, double hbmGb, double gbPerSecond, double paperBlockK,
            double paperSeqK) {

        double minBlock() {
            return teraflops * 1e12 / (gbPerSecond * 1e9);
        }
    }

    /**
     * Table 2 of Liu, Zaharia, Abbeel, "Ring Attention with Blockwise Transformers for
     * Near-Infinite Context" (ICLR 2024), p. 5: FLOPS per host, HBM, unidirectional interconnect
     * bandwidth, and the minimal block size and sequence length the paper gives.
     */
    static final List<PaperHost> PAPER = List.of(
            new PaperHost("A100 NVLink", 312, 80, 300, 1.0, 6.2),
            new PaperHost("A100 InfiniBand", 312, 80, 12.5, 24.5, 149.5),
            new PaperHost("TPU v3", 123, 16, 112, 1.1, 6.6),
            new PaperHost("TPU v4", 275, 32, 268, 1.0, 6.2),
            new PaperHost("TPU v5e", 196, 16, 186, 1.1, 6.3));

    /** Warm-up runs at least (tiered compilation counts calls). */
    static final int WARMUP_RUNS = 20;

    /** The paper's minimal sequence length per device, in blocks. */
    static final int SEQ_BLOCKS = 6;

    @Option(names = "--devices", paramLabel = "P", defaultValue = "2", description = "Devices of the measured ring"
            + " (default ${DEFAULT-VALUE}; at least 2).")
    int devices;

    @Mixin
    EngineOptions engineOptions;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "128", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--shard", paramLabel = "C", defaultValue = "1024", description = "Shard size c of the"
            + " measurement (default ${DEFAULT-VALUE}).")
    int shard;

    @Option(names = "--reps", paramLabel = "R", defaultValue = "3", description = "Measured runs after one"
            + " warm-up run (default ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--warmup-ms", paramLabel = "MS", defaultValue = "1000", description = "Warm up for at least"
            + " this long and 20 runs, until two runs agree within 10%%, for at most ten times this"
            + " long (default ${DEFAULT-VALUE}).")
    int warmupMillis;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for min-block.csv and min-block.png (default"
            + " results/min-block-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--quiet", description = "Print only where the files went.")
    boolean quiet;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /** A row of the table: a host's F and B and the smallest blocks they give. */
    record Row(String host, String source, double flops, double hbmGb, double bytesPerSecond, double paperBlockK,
            double paperSeqK) {

        double minBlock() {
            return flops / bytesPerSecond;
        }
    }

    @Override
    public Integer call() throws IOException {
        engineOptions.check();
        if (devices < 2) {
            throw CliException.usage("--devices must be >= 2 (a ring that sends), got " + devices);
        }
        if (warmupMillis < 0) {
            throw CliException.usage("--warmup-ms must be >= 0, got " + warmupMillis);
        }
        if (dim < 1 || shard < 1 || reps < 1) {
            throw CliException.usage(dim < 1 ? "--head-dim must be >= 1, got " + dim : shard < 1
                    ? "--shard must be >= 1, got " + shard : "--reps must be >= 1, got " + reps);
        }
        Path folder = ExperimentFiles.folder(outDir, "min-block");
        ExperimentFiles.checkFolder(folder);
        PrintWriter out = spec.commandLine().getOut();

        OverlapModel model = new OverlapModel(dim, 1);
        OverlapSweep sweep = new OverlapSweep(Kernels.preferred(), engineOptions.blockQ, engineOptions.blockKv,
                engineOptions.threads(), devices, model);
        OverlapSweep.Row measured;
        try (Progress progress = Progress.start(spec.commandLine().getErr(), "min-block", 2, quiet)) {
            warmUp(sweep);
            progress.step("warm-up");
            measured = sweep.measure(shard, LinkModel.UNTHROTTLED, reps);
            progress.step("measured");
        }
        double f = measured.flopsPerSecond();
        double b = measured.bytes() / (measured.transferMs() / 1e3);

        List<Row> rows = new ArrayList<>();
        for (PaperHost h : PAPER) {
            rows.add(new Row(h.name(), "paper Table 2", h.teraflops() * 1e12, h.hbmGb(), h.gbPerSecond() * 1e9,
                    h.paperBlockK(), h.paperSeqK()));
        }
        String cpu = MachineInfo.cpuModel();
        String host = String.format(Locale.ROOT, "this CPU, 1 of %d in-process devices", devices);
        int threads = engineOptions.threads();
        rows.add(new Row(host, "measured: " + cpu + "; " + threads + " thread" + (threads == 1 ? "" : "s"), f,
                Double.NaN, b, Double.NaN, Double.NaN));

        String csv = csv(rows);
        Chart chart = chart(rows, cpu);
        ExperimentFiles.write(folder, CSV, csv, PNG, chart);
        if (!quiet) {
            table(out, rows, measured);
        }
        out.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        out.flush();
        return 0;
    }

    /**
     * Unthrottled runs until the JIT has compiled the kernels: at least {@value #WARMUP_RUNS} runs
     * and --warmup-ms, then until two runs' compute times agree within 10%, for at most ten times
     * --warmup-ms.
     */
    private void warmUp(OverlapSweep sweep) {
        long start = System.nanoTime();
        double previous = Double.NaN;
        for (int run = 1; ; run++) {
            double last = sweep.measure(shard, LinkModel.UNTHROTTLED, 1).computeMs();
            double elapsed = (System.nanoTime() - start) / 1e6;
            boolean settled = Math.max(previous, last) <= 1.1 * Math.min(previous, last);
            if (elapsed >= 10.0 * warmupMillis || (run >= WARMUP_RUNS && elapsed >= warmupMillis && settled)) {
                return;
            }
            previous = last;
        }
    }

    static String csv(List<Row> rows) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (Row r : rows) {
            double c = r.minBlock();
            sb.append(String.format(Locale.ROOT, "%s,%s,%.6g,%s,%.6g,%d,%s,%s,%.6g,%.6g,%.6g,%.6g%n", text(r.host()),
                    text(r.source()), r.flops() / 1e12, cell(r.hbmGb()), r.bytesPerSecond() / 1e9, 2, cell(r.paperBlockK()),
                    cell(r.paperSeqK()), c, SEQ_BLOCKS * c, 2 * c, SEQ_BLOCKS * 2 * c));
        }
        return sb.toString();
    }

    private static void table(PrintWriter out, List<Row> rows, OverlapSweep.Row measured) {
        out.printf(Locale.ROOT, "experiment min-block: c = F/B (bfloat16 K, V as the paper), s = %dc; float32: 2F/B%n",
                SEQ_BLOCKS);
        out.printf(Locale.ROOT, "%-40s %10s %12s %12s %12s %12s %14s%n", "host", "F (TFLOPS)", "B (GB/s)",
                "paper c (1e3)", "c = F/B", "s = 6c", "c32 = 2F/B");
        for (Row r : rows) {
            out.printf(Locale.ROOT, "%-40s %10.4g %12.4g %12s %12.4g %12.4g %14.4g%n", r.host(), r.flops() / 1e12,
                    r.bytesPerSecond() / 1e9, Double.isNaN(r.paperBlockK()) ? "-" : String.format(Locale.ROOT, "%.1f",
                    r.paperBlockK()), r.minBlock(), SEQ_BLOCKS * r.minBlock(), 2 * r.minBlock());
        }
        out.printf(Locale.ROOT, "measured at c = %d: compute %.3f ms, transfer %.3f ms of %d bytes per step%n",
                measured.c(), measured.computeMs(), measured.transferMs(), measured.bytes());
    }

    private static Chart chart(List<Row> rows, String cpu) {
        Chart chart = new Chart("Minimal block size to hide sending behind computing: c = F / B (paper's Table 2)",
                "Paper: Liu, Zaharia, Abbeel, ICLR 2024, Table 2 (bfloat16). This CPU: " + cpu
                        + ", F and B measured on the in-process ring.",
                "interconnect bandwidth B (GB/s)", "minimal block size c (tokens)");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            chart.add(new Chart.Series(String.format(Locale.ROOT, "%s: F = %.3g TFLOPS, c = %.0f", r.host(),
                    r.flops() / 1e12, r.minBlock()), Chart.PALETTE.get(i % Chart.PALETTE.size()), false,
                    i < PAPER.size() ? Chart.Marker.CIRCLE : Chart.Marker.DIAMOND,
                    new double[] {r.bytesPerSecond() / 1e9}, new double[] {r.minBlock()}));
        }
        return chart;
    }

    /** A text cell: commas (the CSV's separator) become semicolons. */
    private static String text(String s) {
        return s.replace(',', ';');
    }

    private static String cell(double x) {
        return Double.isNaN(x) ? "" : String.format(Locale.ROOT, "%.6g", x);
    }
}
