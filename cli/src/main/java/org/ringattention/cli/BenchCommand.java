package org.ringattention.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.bench.AttentionFlops;
import org.ringattention.bench.FmaPeak;
import org.ringattention.bench.MachineInfo;
import org.ringattention.bench.Timings;
import org.ringattention.bench.WarmupRule;
import org.ringattention.golden.Json;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.RingReport;
import org.ringattention.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code bench}: times the blockwise engine on random inputs and sets its GFLOP/s against this
 * machine's FMA peak ({@link FmaPeak}) measured in the same process with the same threads.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Times blockwise attention, or ring attention with --devices (forward, or backward with --backward) on random standard normal"
            + " float32 inputs of shape [1, H, N, d]: warm-up runs, then timed repetitions (median, min, max).",
            "Warm-up: at least --warmup runs, --warmup-ms milliseconds and 20 runs (the JIT compiles by counts),"
            + " until two runs in a row take about the same time; at most 10 times --warmup-ms.",
            "GFLOP/s counts 4*N^2*d*H per forward pass, half of it with --causal, and 2.5 times it for the backward"
            + " pass (FlashAttention's convention); with --backward only the backward pass is timed, the forward"
            + " pass runs once before. The FMA peak (vector FMAs on the same number of threads, in this process,"
            + " measured before and after the attention runs; the higher one counts) is the ceiling:"
            + " fraction_of_peak = GFLOP/s / peak.",
            "With --json the last line of standard output is one JSON object with the results."})
final class BenchCommand implements Callable<Integer> {

    @Option(names = "--seq", paramLabel = "N", required = true, description = "Sequence length (queries = keys).")
    int seq;

    @Option(names = "--head-dim", paramLabel = "D", required = true, description = "Head dimension.")
    int dim;

    @Option(names = "--heads", paramLabel = "H", required = true, description = "Query heads.")
    int heads;

    @Option(names = "--kv-heads", paramLabel = "K", description = "Key/value heads (default: --heads; fewer for"
            + " grouped-query attention, a divisor of --heads).")
    Integer kvHeads;

    @Option(names = "--causal", description = "Causal mask.")
    boolean causal;

    @Option(names = "--backward", description = "Time the backward pass (the forward pass runs once, untimed).")
    boolean backward;

    @Mixin
    EngineOptions engineOptions;

    @Mixin
    RingOptions ringOptions;

    @Option(names = "--kernels", paramLabel = "preferred|scalar", defaultValue = "preferred", description =
            "Tile kernels: preferred (the fastest on this machine) or scalar (default ${DEFAULT-VALUE}).")
    String kernelsName;

    @Option(names = "--warmup", paramLabel = "W", defaultValue = "2", description = "Untimed warm-up runs (default"
            + " ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--warmup-ms", paramLabel = "MS", defaultValue = "3000", description = "After the --warmup"
            + " runs, keep warming up until this many milliseconds have passed, 20 runs are done and the last two runs are within 25%%"
            + " of each other, for at most 10 times this long (default ${DEFAULT-VALUE}; 0: exactly --warmup runs)."
            + " The JIT compiler needs many calls of the kernels before they run at full speed.")
    int warmupMillis;

    @Option(names = "--reps", paramLabel = "R", defaultValue = "5", description = "Timed repetitions (default"
            + " ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = "--seed", defaultValue = "1", description = "Random seed (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--peak-ms", paramLabel = "MS", defaultValue = "500", description = "Measured milliseconds of"
            + " each FMA peak measurement, after its warm-up (default ${DEFAULT-VALUE}; 0 skips the peak).")
    int peakMillis;

    @Option(names = "--json", description = "Print the results as one JSON object on the last line.")
    boolean json;

    @Option(names = "--mpi", description = "Run under mpirun: ring attention with one device per MPI rank (see"
            + " docs/mpi.md); rank 0 prints.")
    boolean mpi;

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        if (mpi) {
            return new MpiBench(this).call();
        }
        int kv = kvHeads == null ? heads : kvHeads;
        engineOptions.check();
        ringOptions.check();
        int t = engineOptions.threads();
        validate(kv);
        if (ringOptions.active()) {
            ringOptions.checkLength(seq);
        }
        Kernels kernels = kernelsName.equals("scalar") ? Kernels.scalar() : Kernels.preferred();
        PrintWriter out = spec.commandLine().getOut();
        engineOptions.useTuned(dim, causal, backward, spec.commandLine().getErr());

        SplittableRandom rnd = new SplittableRandom(seed);
        Tensor q = Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim);
        Tensor k = Tensor.wrap(gaussian(rnd, kv * seq * dim), 1, kv, seq, dim);
        Tensor v = Tensor.wrap(gaussian(rnd, kv * seq * dim), 1, kv, seq, dim);
        Tensor dOut = backward ? Tensor.wrap(gaussian(rnd, heads * seq * dim), 1, heads, seq, dim) : null;
        AttentionSpec mask = AttentionSpec.DEFAULT.withCausal(causal);
        BlockwiseAttention engine = engineOptions.engine(kernels);
        RingAttention ring = ringOptions.active() ? ringOptions.engine(kernels, engineOptions) : null;
        double flops = AttentionFlops.of(seq, dim, heads, causal, backward);

        String cpu = MachineInfo.cpuModel();
        out.printf(Locale.ROOT, "ring-attention bench: [1, %d, %d, %d] q, %d kv heads, %s %s, %s kernels, %d thread%s,"
                + " blocks %dx%d (%s)%n", heads, seq, dim, kv, causal ? "causal" : "full", backward ? "backward" : "forward",
                kernels.name(), t, t == 1 ? "" : "s", engine.blockQ(), engine.blockKv(), engineOptions.blockSource);
        if (ring != null) {
            LinkModel link = ringOptions.link();
            out.printf(Locale.ROOT, "ring: %d devices, %s layout, link %s%n", ring.devices(), ring.layoutFor(mask),
                    link.isSimulated() ? String.format(Locale.ROOT, "%.3g bytes/s, %.3g s latency",
                            link.bytesPerSecond(), link.latencySeconds()) : "unthrottled");
        }
        out.printf(Locale.ROOT, "cpu: %s (%d processors), java %s%n", cpu, MachineInfo.processors(),
                MachineInfo.javaVersion());
        Boolean preTouched = MachineInfo.heapPreTouched();
        if (Boolean.FALSE.equals(preTouched)) {
            out.println("note: the JVM runs without -XX:+AlwaysPreTouch (the ring-attention launcher sets it): pages"
                    + " of the heap touched for the first time during the timed runs can slow them down");
        }
        out.flush();

        FmaPeak.Result peakBefore = peak(FmaPeak.Kind.VECTOR, t, FmaPeak.DEFAULT_WARMUP);

        AttentionOutput fwd = backward && ring == null ? engine.forward(q, k, v, mask) : null;
        out.printf(Locale.ROOT, "%-9s %10s %10s%n", "run", "seconds", "GFLOP/s");
        long warmStart = System.nanoTime();
        int warmRuns = 0;
        double lastWarm = Double.NaN;
        double previousWarm = Double.NaN;
        WarmupRule warming = new WarmupRule(warmup, warmupMillis);
        while (warming.another(warmRuns, (System.nanoTime() - warmStart) / 1e6, previousWarm, lastWarm)) {
            previousWarm = lastWarm;
            lastWarm = time(engine, ring, q, k, v, fwd, dOut, mask);
            if (++warmRuns <= warmup) {
                out.printf(Locale.ROOT, "%-9s %10.4f %10.2f%n", "warm-up " + warmRuns, lastWarm,
                        flops / lastWarm / 1e9);
                out.flush();
            }
        }
        double warmSeconds = (System.nanoTime() - warmStart) / 1e9;
        if (warmRuns > warmup) {
            out.printf(Locale.ROOT, "%-9s %10.4f %10.2f   (last of %d warm-up runs in %.1f s)%n", "warm-up", lastWarm,
                    flops / lastWarm / 1e9, warmRuns, warmSeconds);
        }
        double[] seconds = new double[reps];
        RingReport[] reports = new RingReport[reps];
        for (int i = 0; i < reps; i++) {
            seconds[i] = time(engine, ring, q, k, v, fwd, dOut, mask);
            reports[i] = lastReport;
            out.printf(Locale.ROOT, "%-9s %10.4f %10.2f%n", "rep " + (i + 1), seconds[i], flops / seconds[i] / 1e9);
            out.flush();
        }

        // Compiled already: a short warm-up is enough for the second measurement.
        FmaPeak.Result peakAfter = peak(FmaPeak.Kind.VECTOR, t, Duration.ofMillis(300));
        FmaPeak.Result scalarPeak = peak(FmaPeak.Kind.SCALAR, t, Duration.ofMillis(300));

        Timings timings = new Timings(seconds);
        double median = timings.median();
        double min = timings.min();
        double max = timings.max();
        double gflops = flops / median / 1e9;
        double peakGflops = Timings.maxIgnoringNaN(peakBefore.gflops(), peakAfter.gflops());
        double fraction = gflops / peakGflops;
        long memory = memoryEstimate(kv, t);
        long scoresBytes = 4L * heads * seq * seq;

        out.printf(Locale.ROOT, "%-9s %10.4f %10.2f%n", "median", median, gflops);
        out.printf(Locale.ROOT, "%-9s %10.4f %10.2f%n", "min", min, flops / min / 1e9);
        out.printf(Locale.ROOT, "%-9s %10.4f %10.2f%n", "max", max, flops / max / 1e9);
        if (Double.isNaN(peakGflops)) {
            String why = peakMillis == 0 ? "skipped (--peak-ms 0)" : peakBefore.note();
            out.printf(Locale.ROOT, "vector FMA peak: %s%n", why);
        } else {
            out.printf(Locale.ROOT, "vector FMA peak, %d thread%s, %d lanes: %.1f GFLOP/s (before %.1f, after %.1f);"
                    + " engine at %.1f%% of it%n", t, t == 1 ? "" : "s", peakBefore.lanes(), peakGflops,
                    peakBefore.gflops(), peakAfter.gflops(), 100 * fraction);
        }
        if (scalarPeak.available()) {
            out.printf(Locale.ROOT, "scalar FMA peak, %d thread%s: %.1f GFLOP/s%n", t, t == 1 ? "" : "s",
                    scalarPeak.gflops());
        }
        RingReport report = ring == null ? null : reports[timings.medianIndex()];
        if (report != null) {
            long[] pairs = report.pairsPerDevice();
            out.printf(Locale.ROOT, "ring (median rep): overlap %.1f%% of transfer time hidden, imbalance %.3f (max/mean"
                    + " pairs per device), %.1f MiB sent, at most %.1f MiB per device plus %.1f MiB of worker tiles%n",
                    100 * report.overlap(), report.imbalance(), report.bytesSent() / 1048576.0,
                    report.maxBytesPerDevice() / 1048576.0, report.workspaceBytes() / 1048576.0);
            out.printf(Locale.ROOT, "pairs per device: %s%n", Arrays.toString(pairs));
        }
        out.printf(Locale.ROOT, "memory: about %.1f MiB for tensors and tiles (materialized scores would take %.1f"
                + " MiB)%n", memory / 1048576.0, scoresBytes / 1048576.0);

        if (json) {
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("tool", "ring-attention");
            r.put("seq", seq);
            r.put("head_dim", dim);
            r.put("heads", heads);
            r.put("kv_heads", kv);
            r.put("batch", 1);
            r.put("causal", causal);
            r.put("backward", backward);
            r.put("threads", t);
            r.put("block_q", engineOptions.blockQ);
            r.put("block_kv", engineOptions.blockKv);
            r.put("block_source", engineOptions.blockSource);
            r.put("kernels", kernels.name());
            r.put("devices", ringOptions.devices);
            r.put("layout", ring == null ? null : ring.layoutFor(mask).toString());
            r.put("overlap", report == null ? 1.0 : report.overlap());
            r.put("imbalance", report == null ? 1.0 : report.imbalance());
            r.put("link_bandwidth_bytes_per_s", ringOptions.link().bytesPerSecond());
            r.put("link_latency_s", ringOptions.link().latencySeconds());
            if (report != null) {
                r.put("ring_bytes_sent", report.bytesSent());
                r.put("ring_max_bytes_per_device", report.maxBytesPerDevice());
                r.put("ring_workspace_bytes", report.workspaceBytes());
                r.put("ring_pairs_per_device", Arrays.stream(report.pairsPerDevice()).boxed().toList());
            }
            r.put("warmup", warmup);
            r.put("warmup_runs", warmRuns);
            r.put("warmup_seconds", warmSeconds);
            r.put("reps", reps);
            r.put("seed", seed);
            r.put("flops", flops);
            r.put("seconds_median", median);
            r.put("seconds_min", min);
            r.put("seconds_max", max);
            r.put("seconds", seconds);
            r.put("gflops", gflops);
            r.put("gflops_best", flops / min / 1e9);
            r.put("peak_fma_gflops", peakGflops);
            r.put("peak_fma_gflops_before", peakBefore.gflops());
            r.put("peak_fma_gflops_after", peakAfter.gflops());
            r.put("peak_fma_lanes", peakBefore.lanes());
            r.put("peak_scalar_fma_gflops", scalarPeak.gflops());
            r.put("fraction_of_peak", fraction);
            r.put("peak_note", peakGflops > 0 ? null : peakMillis == 0 ? "skipped (--peak-ms 0)" : peakBefore.note());
            r.put("memory_estimate_bytes", memory);
            r.put("materialized_scores_bytes", scoresBytes);
            r.put("cpu", cpu);
            r.put("processors", MachineInfo.processors());
            r.put("java", Runtime.version().toString());
            r.put("java_vm", System.getProperty("java.vm.name"));
            r.put("heap_pretouched", preTouched);
            r.replaceAll((key, x) -> x instanceof Double d && !Double.isFinite(d) ? null
                    : x instanceof double[] a ? Arrays.stream(a).boxed().toList() : x);
            out.println(Json.writeCompact(r)); // NaN (a peak that was not measured) as null
        }
        out.flush();
        return 0;
    }

    private void validate(int kv) {
        if (seq < 1) {
            throw CliException.usage("--seq must be >= 1, got " + seq);
        }
        if (dim < 1) {
            throw CliException.usage("--head-dim must be >= 1, got " + dim);
        }
        if (heads < 1) {
            throw CliException.usage("--heads must be >= 1, got " + heads);
        }
        if (kv < 1) {
            throw CliException.usage("--kv-heads must be >= 1, got " + kv);
        }
        if (heads % kv != 0) {
            throw CliException.usage("--heads (" + heads + ") must be a multiple of --kv-heads (" + kv + ")");
        }
        if (!kernelsName.equals("preferred") && !kernelsName.equals("scalar")) {
            throw CliException.usage("--kernels must be preferred or scalar, got '" + kernelsName + "'");
        }
        if (warmup < 0) {
            throw CliException.usage("--warmup must be >= 0, got " + warmup);
        }
        if (warmupMillis < 0) {
            throw CliException.usage("--warmup-ms must be >= 0, got " + warmupMillis);
        }
        if (reps < 1) {
            throw CliException.usage("--reps must be >= 1, got " + reps);
        }
        if (peakMillis < 0) {
            throw CliException.usage("--peak-ms must be >= 0, got " + peakMillis);
        }
        if ((long) heads * seq * dim > Integer.MAX_VALUE - 8) {
            throw CliException.usage("--heads x --seq x --head-dim (" + (long) heads * seq * dim + ") must be below"
                    + " 2^31 elements per tensor");
        }
        long need = memoryEstimate(kv, engineOptions.threads());
        long max = Runtime.getRuntime().maxMemory();
        if (max != Long.MAX_VALUE && need > max) {
            throw CliException.usage(String.format(Locale.ROOT, "the inputs need about %.0f MiB, more than the heap's"
                    + " %.0f MiB (raise -Xmx through RING_ATTENTION_JAVA_OPTS, or lower --seq or --heads)",
                    need / 1048576.0, max / 1048576.0));
        }
    }

    /**
     * Bytes of the float32 tensors a run holds (inputs, outputs, LSE; with --backward also dO and
     * the gradients) plus, per thread, the tiles of one query block and one key/value block. An
     * estimate: the engine's own buffers may differ.
     */
    private long memoryEstimate(int kv, int t) {
        long qElems = (long) heads * seq * dim;
        long kvElems = (long) kv * seq * dim;
        long rows = (long) heads * seq;
        long bq = Math.min(engineOptions.blockQ, seq);
        long bkv = Math.min(engineOptions.blockKv, seq);
        long tensors = qElems + 2 * kvElems + qElems + rows; // q, k, v, O, LSE
        long tiles = bq * dim * 2 + bkv * dim * 2 + bq * bkv + 4 * bq; // Q_i, O_i, K_j, V_j, S_ij, row stats
        if (backward) {
            tensors += qElems + qElems + 2 * kvElems + rows; // dO, dQ, dK, dV, D
            tiles += bq * dim * 2 + bkv * dim * 2 + bq * bkv; // dO_i, dQ_i, dK_j, dV_j, dS_ij
        }
        return 4 * (tensors + t * tiles);
    }

    private FmaPeak.Result peak(FmaPeak.Kind kind, int t, Duration warm) {
        if (peakMillis == 0) {
            return new FmaPeak.Result(kind, t, 0, Double.NaN, 0, "skipped (--peak-ms 0)");
        }
        return FmaPeak.measure(kind, t, warm, Duration.ofMillis(peakMillis));
    }

    /**
     * Seconds of one run. On a ring the backward pass includes its forward pass, so for
     * --backward the time of the ring's backward pass alone is the wall time of that pass.
     */
    private double time(BlockwiseAttention engine, RingAttention ring, Tensor q, Tensor k, Tensor v,
            AttentionOutput fwd, Tensor dOut, AttentionSpec mask) {
        if (ring != null) {
            if (backward) {
                RingAttention.Backward b = ring.backward(q, k, v, dOut, mask);
                sink = b;
                lastReport = b.report();
                return lastReport.wallNanos() / 1e9;
            }
            long t0 = System.nanoTime();
            RingAttention.Forward f = ring.forward(q, k, v, mask);
            long t1 = System.nanoTime();
            sink = f;
            lastReport = f.report();
            return (t1 - t0) / 1e9;
        }
        long t0 = System.nanoTime();
        Object result = backward ? engine.backward(q, k, v, fwd, dOut, mask) : engine.forward(q, k, v, mask);
        long t1 = System.nanoTime();
        sink = result;
        return (t1 - t0) / 1e9;
    }

    private RingReport lastReport;

    /** Keeps the last result reachable, so the runs cannot be dropped as dead code. */
    @SuppressWarnings("unused")
    private static volatile Object sink;

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
