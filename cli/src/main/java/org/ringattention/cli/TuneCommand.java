package org.ringattention.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.bench.AttentionFlops;
import org.ringattention.bench.FmaPeak;
import org.ringattention.bench.MachineInfo;
import org.ringattention.bench.Timings;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code tune}: measures candidate block sizes on this machine within a time budget and prints the
 * fastest, its GFLOP/s and share of the in-run FMA peak, and the ring's minimum shard size
 * c* = 2·F/B for a link of B bytes/s, with F the measured FLOP/s (LinkModel's condition: sending a
 * shard's K and V, 8·c·d·H bytes, hides behind its 4·c²·d·H FLOPs when c ≥ 2·F/B).
 *
 * <p>The budget: about a tenth goes to the FMA peak, a quarter to warming up the JIT on the
 * default blocks (the kernels are the same code for every block size), the rest is shared equally
 * among the candidates, each of which runs once untimed and then repeatedly until its share is
 * spent (at least once, at most {@link #MAX_REPS} times); a candidate's figure is its median. So the
 * whole run takes about the budget, plus at most two runs per candidate when one run is longer
 * than its share.
 */
@Command(name = "tune", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Measures candidate block sizes (--block-q x --block-kv) on random float32 inputs of shape"
            + " [1, H, N, d] within a time budget and prints the fastest, with its GFLOP/s and share of the"
            + " vector FMA peak measured in the same run; with --link-bandwidth, also the ring's minimum shard size"
            + " c* = 2*F/B tokens per device, F the measured FLOP/s.",
            "--save writes the choice to the tuning file (" + TuningFile.FILE_NAME + " in $"
            + TuningFile.DIR_ENV + ", else $XDG_CONFIG_HOME/ring-attention, else ~/.config/ring-attention),"
            + " keyed by CPU model and shape class (head dimension, mask, pass); attend and bench (and the ring)"
            + " use it when no block size is given, and info shows it. Only speed depends on it: the same"
            + " block sizes, given explicitly, give the same bits.",
            "With --json the last line of standard output is one JSON object with the results."})
final class TuneCommand implements Callable<Integer> {

    /** Timed runs per candidate at most: the median of 7 moves little with one disturbed run. */
    static final int MAX_REPS = 7;

    @Option(names = "--seq", paramLabel = "N", defaultValue = "4096", description = "Sequence length (default"
            + " ${DEFAULT-VALUE}).")
    int seq;

    @Option(names = "--head-dim", paramLabel = "D", defaultValue = "128", description = "Head dimension (default"
            + " ${DEFAULT-VALUE}).")
    int dim;

    @Option(names = "--heads", paramLabel = "H", defaultValue = "2", description = "Heads (default ${DEFAULT-VALUE}).")
    int heads;

    @Option(names = "--causal", description = "Causal mask.")
    boolean causal;

    @Option(names = "--backward", description = "Tune the backward pass (the forward runs once per candidate,"
            + " untimed).")
    boolean backward;

    @Option(names = "--threads", paramLabel = "T", description = "Worker threads (default: the available"
            + " processors).")
    Integer threads;

    @Option(names = "--link-bandwidth", paramLabel = "B", description = "Bandwidth of a ring link in bytes/s"
            + " (k, M, G, T prefixes, e.g. 10G): prints c* = 2*F/B.")
    String linkBandwidth;

    @Option(names = "--blocks", paramLabel = "LIST", split = ",", defaultValue = "64,128,256", description =
            "Candidate sizes, used for both --block-q and --block-kv (default ${DEFAULT-VALUE}; sizes above N"
            + " are dropped, N itself is added when none is left).")
    List<Integer> blocks;

    @Option(names = "--budget-ms", paramLabel = "MS", defaultValue = "45000", description = "Time budget in"
            + " milliseconds (default ${DEFAULT-VALUE}).")
    long budgetMillis;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--save", description = "Save the choice to the tuning file.")
    boolean save;

    @Option(names = "--json", description = "Print the results as one JSON object on the last line.")
    boolean json;

    @Option(names = "--quiet", description = "No progress bar.")
    boolean quiet;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    /** One candidate's measurement. */
    record Candidate(int blockQ, int blockKv, double seconds, int reps, double gflops) {
    }

    private static final ObjectMapper JSON = JsonMapper.builder().build();

    @Override
    public Integer call() throws IOException {
        validate();
        double bandwidth = linkBandwidth == null ? Double.NaN
                : RingOptions.quantity("--link-bandwidth", linkBandwidth, "bytes/s");
        if (linkBandwidth != null && !(bandwidth > 0)) {
            throw CliException.usage("--link-bandwidth must be > 0 bytes/s, got " + linkBandwidth);
        }
        int t = threads == null ? MachineInfo.processors() : threads;
        List<int[]> pairs = candidates();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        long deadline = System.nanoTime() + budgetMillis * 1_000_000L;

        out.printf(Locale.ROOT, "ring-attention tune: [1, %d, %d, %d], %s %s, %d thread%s, %d candidates, budget %.1f"
                + " s%n", heads, seq, dim, causal ? "causal" : "full", backward ? "backward" : "forward", t,
                t == 1 ? "" : "s", pairs.size(), budgetMillis / 1e3);
        out.printf(Locale.ROOT, "cpu: %s, %d processors, %s kernels%n", MachineInfo.cpuDescription(),
                MachineInfo.processors(), Kernels.preferred().name());
        out.flush();

        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor q = Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim);
        Tensor k = Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim);
        Tensor v = Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim);
        Tensor dOut = backward ? Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim) : null;
        AttentionSpec mask = AttentionSpec.DEFAULT.withCausal(causal);
        double flops = AttentionFlops.of(seq, dim, heads, causal, backward);

        List<Candidate> results = new ArrayList<>();
        FmaPeak.Result peak;
        try (Progress progress = Progress.start(err, "tune", pairs.size() + 2, quiet)) {
            long peakMillis = Math.max(20, budgetMillis / 20);
            peak = FmaPeak.measure(FmaPeak.Kind.VECTOR, t, Duration.ofMillis(Math.min(1000, peakMillis)),
                    Duration.ofMillis(Math.min(500, peakMillis)));
            progress.step("FMA peak");

            // The kernels are the same code whatever the blocks: warm the JIT once on the default ones.
            BlockwiseAttention warm = new BlockwiseAttention(Kernels.preferred(), EngineOptions.DEFAULT_BLOCK,
                    EngineOptions.DEFAULT_BLOCK, t);
            long warmEnd = System.nanoTime() + (deadline - System.nanoTime()) / 4;
            do {
                run(warm, q, k, v, dOut, mask, null);
            } while (System.nanoTime() < warmEnd);
            progress.step("warm-up");

            for (int i = 0; i < pairs.size(); i++) {
                int[] p = pairs.get(i);
                long share = (deadline - System.nanoTime()) / (pairs.size() - i);
                results.add(measure(new BlockwiseAttention(Kernels.preferred(), p[0], p[1], t), q, k, v, dOut, mask,
                        flops, System.nanoTime() + share));
                progress.step(p[0] + "x" + p[1]);
            }
        }

        Candidate best = results.stream().max((a, b) -> Double.compare(a.gflops(), b.gflops())).orElseThrow();
        double fraction = peak.available() ? best.gflops() / peak.gflops() : Double.NaN;
        double cStar = 2 * best.gflops() * 1e9 / bandwidth;

        out.printf(Locale.ROOT, "%-10s %-10s %10s %6s %10s %8s%n", "block_q", "block_kv", "seconds", "runs", "GFLOP/s",
                "of peak");
        for (Candidate c : results) {
            out.printf(Locale.ROOT, "%-10d %-10d %10.4f %6d %10.2f %8s%s%n", c.blockQ(), c.blockKv(), c.seconds(),
                    c.reps(), c.gflops(), percent(c.gflops(), peak), c == best ? "  <- best" : "");
        }
        out.printf(Locale.ROOT, "best: --block-q %d --block-kv %d, %.2f GFLOP/s, %s of the vector FMA peak (%s)%n",
                best.blockQ(), best.blockKv(), best.gflops(), percent(best.gflops(), peak),
                peak.available() ? String.format(Locale.ROOT, "%.1f GFLOP/s on %d thread%s", peak.gflops(), t,
                        t == 1 ? "" : "s") : peak.note());
        if (linkBandwidth != null) {
            out.printf(Locale.ROOT, "ring: c* = 2*F/B = 2 x %.3g FLOP/s / %.3g bytes/s = %.4g tokens per device"
                    + " (shards at least this long hide sending behind computing)%n", best.gflops() * 1e9,
                    bandwidth, cStar);
        }
        String savedTo = null;
        if (save) {
            TuningFile.Entry entry = new TuningFile.Entry(MachineInfo.cpuModel(), MachineInfo.cpuFamily(),
                    TuningFile.shapeClass(dim, causal, backward), best.blockQ(), best.blockKv(), best.gflops(),
                    Double.isNaN(fraction) ? null : fraction, seq, heads, t,
                    OffsetDateTime.now(ZoneOffset.UTC).truncatedTo(ChronoUnit.SECONDS).toString());
            savedTo = TuningFile.path().toString();
            TuningFile.save(TuningFile.path(), entry, w -> err.println("ring-attention: " + w));
            out.printf(Locale.ROOT, "saved to %s as %s for %s%n", savedTo, entry.shapeClass(), entry.cpu());
        }
        if (json) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("tool", "ring-attention tune");
            r.put("block_q", best.blockQ());
            r.put("block_kv", best.blockKv());
            r.put("gflops", best.gflops());
            r.put("fraction_of_peak", finite(fraction));
            r.put("peak_fma_gflops", finite(peak.gflops()));
            r.put("c_star", linkBandwidth == null ? null : cStar);
            r.put("link_bandwidth_bytes_per_s", linkBandwidth == null ? null : bandwidth);
            r.put("seq", seq);
            r.put("head_dim", dim);
            r.put("heads", heads);
            r.put("causal", causal);
            r.put("backward", backward);
            r.put("threads", t);
            r.put("shape_class", TuningFile.shapeClass(dim, causal, backward));
            r.put("budget_ms", budgetMillis);
            List<Map<String, Object>> all = new ArrayList<>();
            for (Candidate c : results) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("block_q", c.blockQ());
                m.put("block_kv", c.blockKv());
                m.put("seconds_median", c.seconds());
                m.put("reps", c.reps());
                m.put("gflops", c.gflops());
                all.add(m);
            }
            r.put("candidates", all);
            r.put("saved_to", savedTo);
            r.put("cpu", MachineInfo.cpuModel());
            r.put("cpu_family", MachineInfo.cpuFamily());
            r.put("kernels", Kernels.preferred().name());
            out.println(JSON.writeValueAsString(r));
        }
        out.flush();
        return 0;
    }

    private void validate() {
        if (seq < 1 || dim < 1 || heads < 1) {
            throw CliException.usage("--seq, --head-dim and --heads must be >= 1, got " + seq + ", " + dim + ", "
                    + heads);
        }
        if (threads != null && threads < 1) {
            throw CliException.usage("--threads must be >= 1, got " + threads);
        }
        if (budgetMillis < 1) {
            throw CliException.usage("--budget-ms must be >= 1, got " + budgetMillis);
        }
        if (blocks.isEmpty() || blocks.stream().anyMatch(b -> b == null || b < 1)) {
            throw CliException.usage("--blocks must list sizes >= 1, got " + blocks);
        }
        if ((long) heads * seq * dim > Integer.MAX_VALUE - 8) {
            throw CliException.usage("--heads x --seq x --head-dim must be below 2^31 elements per tensor");
        }
    }

    /** Every pair of candidate sizes up to N (N itself when none is). */
    private List<int[]> candidates() {
        int[] sizes = blocks.stream().mapToInt(Integer::intValue).filter(b -> b <= seq).distinct().sorted().toArray();
        if (sizes.length == 0) {
            sizes = new int[] {seq};
        }
        int[] s = sizes;
        return IntStream.range(0, s.length * s.length).mapToObj(i -> new int[] {s[i / s.length], s[i % s.length]})
                .toList();
    }

    /** One untimed run, then timed runs until {@code until} (at least one, at most {@link #MAX_REPS}). */
    private Candidate measure(BlockwiseAttention engine, Tensor q, Tensor k, Tensor v, Tensor dOut,
            AttentionSpec mask, double flops, long until) {
        AttentionOutput fwd = backward ? engine.forward(q, k, v, mask) : null;
        run(engine, q, k, v, dOut, mask, fwd);
        List<Double> seconds = new ArrayList<>();
        do {
            seconds.add(run(engine, q, k, v, dOut, mask, fwd));
        } while (seconds.size() < MAX_REPS && System.nanoTime() < until);
        Timings timings = new Timings(seconds.stream().mapToDouble(Double::doubleValue).toArray());
        return new Candidate(engine.blockQ(), engine.blockKv(), timings.median(), timings.count(),
                AttentionFlops.gflops(flops, timings.median()));
    }

    /** Seconds of one pass: the forward, or the backward given {@code fwd} (computed first if null). */
    private double run(BlockwiseAttention engine, Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec mask,
            AttentionOutput fwd) {
        if (!backward) {
            return Timings.time(() -> sink = engine.forward(q, k, v, mask));
        }
        AttentionOutput f = fwd != null ? fwd : engine.forward(q, k, v, mask);
        return Timings.time(() -> sink = engine.backward(q, k, v, f, dOut, mask));
    }

    /** Keeps the last result reachable, so the runs cannot be dropped as dead code. */
    @SuppressWarnings("unused")
    private static volatile Object sink;

    private static String percent(double gflops, FmaPeak.Result peak) {
        return peak.available() ? String.format(Locale.ROOT, "%.1f %%", 100 * gflops / peak.gflops()) : "-";
    }

    private static Double finite(double x) {
        return Double.isFinite(x) ? x : null;
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
