package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.ringattention.mpi.Mpi;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code experiment netns-overlap}: the overlap experiment of {@code experiment overlap} on real
 * links: P MPI ranks, each in a network namespace of its own ({@link Netns}), talking TCP over
 * veth pairs shaped with tbf. This process (the driver) makes the namespaces, starts
 * {@code mpirun} with every rank wrapped in {@code ip netns exec}, shapes the links once the ranks
 * measured F (with {@code --rate auto}), and after the sweep ({@link NetnsRankSweep}) writes the
 * CSV and the chart; the namespaces go in any case (finally, and a shutdown hook on a signal).
 */
@Command(name = "netns-overlap", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Sweeps the shard size c on real links between separate network namespaces: step time"
            + " against max(compute, transfer), with c* = 2F/B from the measured F and B.",
            "Makes P network namespaces joined pairwise by veth pairs (10.77.0.0/16), shaped with tc tbf to a rate"
            + " B (Linux's netem, which would add delay, is missing on these kernels: the links have the latency of"
            + " a veth), and runs mpirun -np P with every rank in its namespace (ip netns exec) and Open MPI's TCP"
            + " transport restricted to the veths (--mca btl self,tcp --mca btl_tcp_if_include 10.77.0.0/16).",
            "Each rank is one ring device with --threads worker threads (default 1). The ranks run the forward"
            + " pass (full mask) at N = P*c for every c: a warm-up, then F = the median compute time of a step at"
            + " the swept size nearest the geometric middle; with --rate auto the links are then shaped so that"
            + " c* = 2F/B falls there. B is measured on the shaped links (a ring exchange of the largest size's K"
            + " and V with nothing to compute). Then the sizes round-robin --reps times; medians over the steps that"
            + " send (0..P-2) of every rank: compute, transfer, wait, step = compute + wait; hidden = 1 - wait /"
            + " transfer (sums over the size's steps). A step's transfer is the longer of its send's time and its"
            + " bytes over B (TCP completes a send once the bytes are in the socket's buffers).",
            "Needs root (ip netns), iproute2 and Open MPI. Writes netns-overlap.csv and netns-overlap.png to --out;"
            + " both replace earlier files only when both are written."},
        footer = {"", "Exit codes: 0 success, 1 the output folder cannot be written or a rank failed, 2 bad usage,"
            + " 3 network namespaces are not permitted here or Open MPI is missing (nothing was run)."})
final class NetnsOverlapCommand implements Callable<Integer> {

    /** Exit code when the machine does not permit the experiment (no namespaces, no MPI). */
    static final int NOT_PERMITTED = 3;

    /** The target: at least this share of transfer hidden from {@link #TARGET_FACTOR} c* on. */
    static final double TARGET_HIDDEN = 0.90;
    static final double TARGET_FACTOR = 1.2;

    static final String CSV = "netns-overlap.csv";
    static final String PNG = "netns-overlap.png";
    static final String CSV_HEADER = "shard_c,n,ranks,threads_per_rank,head_dim,heads,tbf_rate_bytes_per_s,"
            + "measured_bandwidth_bytes_per_s,bytes_per_step,compute_ms,transfer_ms,wait_ms,step_ms,"
            + "max_compute_transfer_ms,model_transfer_ms,hidden,gflops_per_rank,model_gflops_per_rank,model_c,"
            + "predicted_crossover_c,at_least_1_2_c_star";

    private static final long TIMEOUT_MINUTES = 30;

    @Option(names = "--ranks", paramLabel = "P", defaultValue = "2", description = "MPI ranks, each in a namespace"
            + " of its own (default ${DEFAULT-VALUE}; 2 to 8).")
    int ranks;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    SweepOptions sweepOptions;

    @Option(names = "--shards", paramLabel = "C", split = ",", defaultValue = "256,512,1024,2048,4096",
            description = "Shard sizes c to sweep, comma-separated (default ${DEFAULT-VALUE}).")
    List<Integer> shards;

    @Option(names = "--rate", paramLabel = "BYTES_PER_S|auto", defaultValue = "auto", description = "The tbf rate"
            + " of every link in bytes/s (e.g. 1e8), or auto (default): after F is measured, the rate that puts"
            + " c* = 2F/B at the sweep's geometric middle.")
    String rate;

    @Option(names = "--warmup-ms", paramLabel = "MS", defaultValue = "1000", description = "After one run at every"
            + " size, warm up at the largest for at least this long and 20 runs, until two runs agree within 25%%,"
            + " for at most 10 times this long (default ${DEFAULT-VALUE}; 0: no further runs).")
    int warmupMillis;

    @Option(names = "--out", paramLabel = "DIR", description = "Folder for the CSV and PNG (default"
            + " results/netns-overlap-<timestamp>); created if missing.")
    Path outDir;

    @Option(names = "--mpirun", paramLabel = "PATH", defaultValue = "mpirun", description = "The mpirun command"
            + " (default ${DEFAULT-VALUE}, looked up on PATH).")
    String mpirun;

    @Option(names = "--ip", paramLabel = "PATH", defaultValue = "ip", description = "iproute2's ip command (default"
            + " ${DEFAULT-VALUE}).")
    String ip;

    @Option(names = "--tc", paramLabel = "PATH", defaultValue = "tc", description = "iproute2's tc command (default"
            + " ${DEFAULT-VALUE}).")
    String tc;

    /** Set by the driver for the ranks: the folder through which they and the driver talk. */
    @Option(names = "--rank-side", hidden = true)
    Path rankSide;

    @Option(names = "--wait-for-shaping", hidden = true)
    boolean waitForShaping;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws IOException, InterruptedException {
        if (engineOptions.threads == null) {
            engineOptions.threads = 1;
        }
        engineOptions.check();
        List<Integer> sizes = sizes();
        double fixedRate = validate(sizes);
        if (rankSide != null) {
            return new NetnsRankSweep(this, rankSide).call();
        }
        Path folder = ExperimentFiles.folder(outDir, "netns-overlap");
        ExperimentFiles.checkFolder(folder);
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        String why = Netns.unavailable(ip);
        if (why != null) {
            throw new CliException(NOT_PERMITTED, "experiment netns-overlap: network namespaces are not permitted"
                    + " here: " + why + " (it needs root and iproute2); nothing was run");
        }
        String mpirunPath = onPath(mpirun);
        if (mpirunPath == null || !Mpi.available()) {
            throw new CliException(NOT_PERMITTED, "experiment netns-overlap: Open MPI is missing (" + (mpirunPath
                    == null ? "no " + mpirun + " on PATH" : Mpi.LIBRARY + " not found") + "): apt-get install"
                    + " openmpi-bin libopenmpi-dev; nothing was run");
        }
        for (String stale : Netns.removeStale(ip)) {
            err.println("ring-attention: removed network namespace " + stale + ", left by a run that was killed");
        }
        OverlapModel model = new OverlapModel(sweepOptions.dim, sweepOptions.heads);
        int modelC = modelSize(sizes);
        double middle = Math.sqrt((double) sizes.get(0) * sizes.get(sizes.size() - 1));
        Path talk = Files.createTempDirectory("netns-overlap");
        Outcome outcome;
        try (Netns net = Netns.create(ip, tc, ranks)) {
            out.printf(Locale.ROOT, "experiment netns-overlap: %d ranks in namespaces %s..%s, d = %d, H = %d, %d"
                    + " thread%s per rank, blocks %dx%d%n", ranks, net.namespace(0), net.namespace(ranks - 1),
                    sweepOptions.dim, sweepOptions.heads, engineOptions.threads(),
                    engineOptions.threads() == 1 ? "" : "s", engineOptions.blockQ, engineOptions.blockKv);
            out.flush();
            double tbf = fixedRate;
            if (!Double.isNaN(fixedRate)) {
                net.shape(fixedRate);
            }
            Process p = startRanks(mpirunPath, net, talk, Double.isNaN(fixedRate));
            net.endOnClose(p);
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(TIMEOUT_MINUTES);
            boolean shaped = !Double.isNaN(fixedRate);
            while (!p.waitFor(50, TimeUnit.MILLISECONDS)) {
                if (System.nanoTime() > deadline) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    throw CliException.data("experiment netns-overlap: the ranks did not finish within "
                            + TIMEOUT_MINUTES + " minutes");
                }
                if (!shaped && Files.exists(talk.resolve("f.txt"))) {
                    Map<String, Double> f = keyValues(talk.resolve("f.txt"));
                    double flops = model.flops(modelC) / (f.get("compute_ns") / 1e9);
                    tbf = model.bandwidthFor(middle, flops, 0);
                    out.printf(Locale.ROOT, "F = %.4g GFLOP/s per rank (median step at c = %d, unshaped links); tbf"
                            + " rate B = %.4g bytes/s (%.1f MB/s), for c* = 2F/B = %.0f%n", flops / 1e9, modelC, tbf,
                            tbf / 1e6, middle);
                    out.flush();
                    net.shape(tbf);
                    Files.writeString(talk.resolve("shaped.txt"), "shaped\n", StandardCharsets.UTF_8);
                    shaped = true;
                }
            }
            if (p.exitValue() != 0) {
                throw CliException.data("experiment netns-overlap: mpirun ended with exit code " + p.exitValue()
                        + " (the ranks' messages are above)");
            }
            outcome = outcome(talk.resolve("steps.csv"), sizes, model, modelC, tbf);
        } finally {
            try (Stream<Path> files = Files.list(talk)) {
                for (Path f : files.toList()) {
                    Files.deleteIfExists(f);
                }
            }
            Files.deleteIfExists(talk);
        }
        report(out, outcome, folder, model);
        return 0;
    }

    /** What the sweep found, per size, and the model's numbers. */
    private record Outcome(List<OverlapSweep.Row> rows, double f, int modelC, double b, double tbf,
            double crossover) {
    }

    private Outcome outcome(Path steps, List<Integer> sizes, OverlapModel model, int modelC, double tbf)
            throws IOException {
        List<String> lines = Files.readAllLines(steps, StandardCharsets.UTF_8);
        Map<String, Double> probe = new LinkedHashMap<>();
        for (String kv : lines.get(0).substring(1).strip().split("\\s+")) {
            String[] parts = kv.split("=");
            probe.put(parts[0], Double.parseDouble(parts[1]));
        }
        Map<Integer, List<long[]>> bySize = new LinkedHashMap<>();
        for (int c : sizes) {
            bySize.put(c, new ArrayList<>());
        }
        for (String line : lines.subList(2, lines.size())) {
            String[] x = line.split(",");
            bySize.get(Integer.parseInt(x[0])).add(new long[] {Long.parseLong(x[1]), Long.parseLong(x[2]),
                    Long.parseLong(x[3]), Long.parseLong(x[4])});
        }
        // TCP completes a send once the bytes are in the socket's buffers, before they crossed the link:
        // a step's transfer is the longer of what its send took and its bytes at the probe's bandwidth.
        double b = probe.get("probe_bytes") / (probe.get("probe_ns") / 1e9);
        for (List<long[]> st : bySize.values()) {
            for (long[] s : st) {
                s[2] = Math.max(s[2], Math.round(s[3] / b * 1e9));
            }
        }
        List<OverlapSweep.Row> rows = new ArrayList<>();
        for (int c : sizes) {
            List<long[]> st = bySize.get(c);
            double compute = medianMs(st, 0);
            double wait = medianMs(st, 1);
            double transfer = medianMs(st, 2);
            double step = OverlapSweep.median(st.stream().mapToDouble(s -> (s[0] + s[1]) / 1e6).toArray());
            double waitSum = st.stream().mapToDouble(s -> s[1]).sum();
            double transferSum = st.stream().mapToDouble(s -> s[2]).sum();
            double hidden = transferSum == 0 ? 1 : Math.max(0, Math.min(1, 1 - waitSum / transferSum));
            long bytes = (long) OverlapSweep.median(st.stream().mapToDouble(s -> s[3]).toArray());
            rows.add(new OverlapSweep.Row(c, ranks * c, compute, transfer, wait, step, hidden, bytes,
                    model.flops(c) / (compute / 1e3)));
        }
        double f = rows.get(sizes.indexOf(modelC)).flopsPerSecond();
        return new Outcome(rows, f, modelC, b, tbf, model.crossover(f, b, 0));
    }

    private static double medianMs(List<long[]> steps, int field) {
        return OverlapSweep.median(steps.stream().mapToDouble(s -> s[field] / 1e6).toArray());
    }

    private void report(PrintWriter out, Outcome o, Path folder, OverlapModel model) throws IOException {
        String head = "%7s %8s %11s %11s %9s %9s %11s %8s %9s%n";
        out.printf(Locale.ROOT, head, "c", "N", "compute_ms", "transfer_ms", "wait_ms", "step_ms", "max(c,t)_ms",
                "hidden", "GFLOP/s");
        for (OverlapSweep.Row r : o.rows()) {
            out.printf(Locale.ROOT, "%7d %8d %11.4f %11.4f %9.4f %9.4f %11.4f %8.3f %9.3g%n", r.c(), r.n(),
                    r.computeMs(), r.transferMs(), r.waitMs(), r.stepMs(), r.maxComputeTransferMs(), r.overlap(),
                    r.flopsPerSecond() / 1e9);
        }
        double crossing = OverlapSweep.crossing(o.rows());
        out.printf(Locale.ROOT, "measured: F = %.4g GFLOP/s per rank (median step at c = %d), B = %.4g bytes/s"
                + " (%.1f MB/s, ring exchange on the shaped links; tbf rate %.4g); c* = 2F/B = %.0f%n", o.f() / 1e9,
                o.modelC(), o.b(), o.b() / 1e6, o.tbf(), o.crossover());
        List<OverlapSweep.Row> beyond = o.rows().stream().filter(r -> r.c() >= TARGET_FACTOR * o.crossover())
                .toList();
        double worst = beyond.stream().mapToDouble(OverlapSweep.Row::overlap).min().orElse(Double.NaN);
        out.printf(Locale.ROOT, "transfer hidden for c >= %.1f c* = %.0f: %s (target at least %.0f%%)%n",
                TARGET_FACTOR, TARGET_FACTOR * o.crossover(), beyond.isEmpty() ? "no swept size is that large"
                : String.format(Locale.ROOT, "at least %.1f%% over %d size%s, %s", 100 * worst, beyond.size(),
                beyond.size() == 1 ? "" : "s", worst >= TARGET_HIDDEN ? "met" : "missed"), 100 * TARGET_HIDDEN);
        String title = title(ranks, sweepOptions.dim, sweepOptions.heads, o.b());
        String subtitle = String.format(Locale.ROOT, "%d thread%s per rank; F = %.3g GFLOP/s per rank at c = %d;"
                + " medians of %d run%s", engineOptions.threads(), engineOptions.threads() == 1 ? "" : "s",
                o.f() / 1e9, o.modelC(), sweepOptions.reps, sweepOptions.reps == 1 ? "" : "s");
        ExperimentFiles.write(folder, CSV, csv(o, model), PNG, OverlapChart.of(o.rows(), title, subtitle,
                o.crossover(), crossing));
        out.printf("wrote %s and %s%n", folder.resolve(CSV), folder.resolve(PNG));
        out.flush();
    }

    private static String title(int ranks, int dim, int heads, double bandwidth) {
        return String.format(Locale.ROOT, "Ring attention over namespaces: P = %d ranks, d = %d, H = %d, B = %.1f MB/s"
                + " (tbf, TCP)", ranks, dim, heads, bandwidth / 1e6);
    }

    /**
     * The chart of a netns-overlap.csv read back ({@code experiment replot}): as the run drew it,
     * but its caption does not name the repetitions, which the CSV does not record.
     */
    static Chart chartOf(ExperimentCsv csv) {
        List<OverlapSweep.Row> rows = OverlapChart.rowsOf(csv, "hidden", "gflops_per_rank");
        int threads = csv.intAt(0, "threads_per_rank");
        String caption = String.format(Locale.ROOT, "%d thread%s per rank; F = %.3g GFLOP/s per rank at c = %d;"
                + " redrawn from %s", threads, threads == 1 ? "" : "s", csv.doubleAt(0, "model_gflops_per_rank"),
                csv.intAt(0, "model_c"), csv.file().getFileName());
        return OverlapChart.of(rows, title(csv.intAt(0, "ranks"), csv.intAt(0, "head_dim"), csv.intAt(0, "heads"),
                csv.doubleAt(0, "measured_bandwidth_bytes_per_s")), caption, csv.doubleAt(0, "predicted_crossover_c"),
                OverlapSweep.crossing(rows));
    }

    private String csv(Outcome o, OverlapModel model) {
        StringBuilder sb = new StringBuilder(CSV_HEADER).append('\n');
        for (OverlapSweep.Row r : o.rows()) {
            sb.append(String.format(Locale.ROOT, "%d,%d,%d,%d,%d,%d,%.6g,%.6g,%d,%.6f,%.6f,%.6f,%.6f,%.6f,%.6f,%.4f,"
                    + "%.6g,%.6g,%d,%.6g,%b\n", r.c(), r.n(), ranks, engineOptions.threads(), sweepOptions.dim,
                    sweepOptions.heads, o.tbf(),
                    o.b(), r.bytes(), r.computeMs(), r.transferMs(), r.waitMs(), r.stepMs(), r.maxComputeTransferMs(),
                    model.bytes(r.c()) / o.b() * 1e3, r.overlap(), r.flopsPerSecond() / 1e9, o.f() / 1e9, o.modelC(),
                    o.crossover(), r.c() >= TARGET_FACTOR * o.crossover()));
        }
        return sb.toString();
    }

    /**
     * mpirun with rank i on "host" i: the hosts of a hostfile are the namespaces' launch addresses,
     * and the launch agent (ssh's stand-in, {@code plm_rsh_agent}) is a script that runs Open MPI's
     * daemon in the host's namespace ({@code ip netns exec}); each rank then talks to its own
     * daemon inside its namespace and to the other ranks over TCP on the shaped veths only. (Ranks
     * started straight into a namespace cannot reach mpirun's PMIx server, which listens on this
     * namespace's loopback.) The ranks run this JVM's command with {@code --rank-side}.
     */
    private Process startRanks(String mpirunPath, Netns net, Path talk, boolean waitShaping) throws IOException {
        StringBuilder hosts = new StringBuilder();
        StringBuilder cases = new StringBuilder();
        for (int i = 0; i < ranks; i++) {
            hosts.append(Netns.launchAddress(i, false)).append(" slots=1\n");
            cases.append("    ").append(Netns.launchAddress(i, false)).append(") ns=").append(net.namespace(i))
                    .append(" ;;\n");
        }
        Path hostfile = talk.resolve("hosts.txt");
        Files.writeString(hostfile, hosts.toString(), StandardCharsets.UTF_8);
        Path agent = talk.resolve("agent.sh");
        Files.writeString(agent, ("#!/bin/sh\n# plm_rsh_agent: HOST COMMAND... -> COMMAND in HOST's namespace\n"
                + "host=$1\nshift\ncase $host in\n" + cases + "    *) echo \"agent.sh: unknown host $host\" >&2; exit 1 ;;\n"
                + "esac\nexec " + ip + " netns exec \"$ns\" /bin/sh -c \"$*\"\n"), StandardCharsets.UTF_8);
        Files.setPosixFilePermissions(agent, PosixFilePermissions.fromString("rwx------"));
        List<String> cmd = new ArrayList<>(List.of(mpirunPath, "-np", String.valueOf(ranks), "--hostfile",
                hostfile.toString(), "--map-by", "node", "--bind-to", "none",
                "--mca", "plm_rsh_agent", agent.toString(), "--mca", "plm_rsh_no_tree_spawn", "1",
                "--mca", "oob_tcp_if_include", Netns.LAUNCH_SUBNETS,
                "--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", Netns.SUBNETS));
        if (isRoot()) {
            cmd.add("--allow-run-as-root");
        }
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin",
                "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
        cmd.addAll(spec.commandLine().getParseResult().originalArgs()); // from the top: experiment netns-overlap ...
        cmd.addAll(List.of("--rank-side", talk.toString()));
        if (waitShaping) {
            cmd.add("--wait-for-shaping");
        }
        return new ProcessBuilder(cmd).inheritIO().start();
    }

    private static boolean isRoot() {
        return "root".equals(System.getProperty("user.name"));
    }

    private static Map<String, Double> keyValues(Path file) throws IOException {
        Map<String, Double> m = new LinkedHashMap<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            int eq = line.indexOf('=');
            if (eq > 0) {
                m.put(line.substring(0, eq).strip(), Double.parseDouble(line.substring(eq + 1).strip()));
            }
        }
        return m;
    }

    /** {@code command} when it is a path to an executable, else its first executable match on PATH, else null. */
    static String onPath(String command) {
        if (command.contains("/")) {
            return Files.isExecutable(Path.of(command)) ? command : null;
        }
        for (String dir : System.getenv().getOrDefault("PATH", "/usr/bin").split(java.io.File.pathSeparator)) {
            Path p = Path.of(dir, command);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }

    /** The swept sizes, sorted and distinct. */
    List<Integer> sizes() {
        return List.copyOf(new TreeSet<>(shards == null ? List.of() : shards));
    }

    /** The size whose compute gives F: the one nearest the geometric middle of the sweep. */
    int modelSize(List<Integer> sizes) {
        return OverlapCommand.nearest(sizes, Math.sqrt((double) sizes.get(0) * sizes.get(sizes.size() - 1)));
    }

    /** Checks the options; returns the fixed rate in bytes/s, or NaN for auto. */
    private double validate(List<Integer> sizes) {
        if (ranks < 2 || ranks > 8) {
            throw CliException.usage("--ranks must be 2 to 8, got " + ranks);
        }
        if (sizes.isEmpty() || sizes.get(0) < 1) {
            throw CliException.usage("--shards needs sizes >= 1");
        }
        sweepOptions.check();
        long perHop = 8L * sizes.get(sizes.size() - 1) * sweepOptions.dim * sweepOptions.heads;
        long elements = (long) ranks * sizes.get(sizes.size() - 1) * sweepOptions.dim * sweepOptions.heads;
        if (elements > Integer.MAX_VALUE - 8 || perHop > Integer.MAX_VALUE) {
            throw CliException.usage("--ranks x largest --shards x --head-dim x --heads (" + elements + ") is too"
                    + " large: below 2^31 elements per tensor and 2 GiB per hop");
        }
        if (warmupMillis < 0) {
            throw CliException.usage("--warmup-ms must be >= 0, got " + warmupMillis);
        }
        if (rate.strip().equalsIgnoreCase("auto")) {
            return Double.NaN;
        }
        double b;
        try {
            b = Double.parseDouble(rate.strip());
        } catch (NumberFormatException e) {
            b = Double.NaN;
        }
        if (!(b >= 1000) || Double.isInfinite(b)) {
            throw CliException.usage("--rate must be a number of bytes/s >= 1000 or auto, got '" + rate + "'");
        }
        return b;
    }
}
