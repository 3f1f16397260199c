package org.ringattention.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.bench.WarmupRule;
import org.ringattention.golden.Json;
import org.ringattention.kernel.Kernels;
import org.ringattention.mpi.Mpi;
import org.ringattention.mpi.MpiRing;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.FaultInjector;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.RingReport;
import org.ringattention.ring.StepRecord;
import org.ringattention.tensor.Tensor;

/**
 * {@code bench --mpi}: times ring attention with one device per MPI rank on the random inputs of
 * {@code bench} (every rank builds them from the seed and reads only its rows), warmed up and timed
 * as {@code bench} times the in-process ring (the same warm-up rule, block sizes and timed span).
 * Each run starts after a barrier; its time is the longest on any rank of: from the barrier to the
 * rank's results (forward), or the backward pass's ring (--backward). Per hop (every
 * rank's sends, gathered by broadcasts): bytes, transfer time, bandwidth, and the share of transfer
 * time hidden behind computing, overlap = 1 − Σ wait / Σ transfer. Rank 0 prints; with --json the
 * last line is one JSON object.
 */
final class MpiBench {

    private final BenchCommand cmd;

    MpiBench(BenchCommand cmd) {
        this.cmd = cmd;
    }

    int call() {
        if (!Mpi.available()) {
            throw CliException.usage("--mpi needs Open MPI (" + Mpi.LIBRARY + "): apt-get install openmpi-bin"
                    + " libopenmpi-dev, then run under mpirun -np P");
        }
        MpiRing mpiRing = MpiRing.start();
        Mpi mpi = mpiRing.mpi();
        int kv = cmd.kvHeads == null ? cmd.heads : cmd.kvHeads;
        try {
            cmd.engineOptions.check();
            cmd.ringOptions.check();
            if (cmd.spec.commandLine().getParseResult().hasMatchedOption("--devices")
                    && cmd.ringOptions.devices != mpi.size()) {
                throw CliException.usage("--devices (" + cmd.ringOptions.devices + ") must equal the MPI world size ("
                        + mpi.size() + ") with --mpi");
            }
            if (cmd.seq < mpi.size() || cmd.dim < 1 || cmd.heads < 1 || kv < 1 || cmd.heads % kv != 0 || cmd.reps < 1) {
                throw CliException.usage("need --seq >= the world size (" + mpi.size() + "), --head-dim >= 1, --heads a"
                        + " multiple of --kv-heads, --reps >= 1");
            }
        } catch (CliException e) {
            mpiRing.finish();
            if (mpi.rank() == 0) {
                throw e;
            }
            return e.exitCode();
        }
        // the block sizes bench would use (given, tuned, or the default), so that the two compare
        cmd.engineOptions.useTuned(cmd.dim, cmd.causal, cmd.backward, mpi.rank() == 0
                ? cmd.spec.commandLine().getErr() : new PrintWriter(java.io.OutputStream.nullOutputStream()));
        SplittableRandom rnd = new SplittableRandom(cmd.seed);
        int n = cmd.seq;
        int d = cmd.dim;
        Tensor q = Tensor.wrap(gaussian(rnd, cmd.heads * n * d), 1, cmd.heads, n, d);
        Tensor k = Tensor.wrap(gaussian(rnd, kv * n * d), 1, kv, n, d);
        Tensor v = Tensor.wrap(gaussian(rnd, kv * n * d), 1, kv, n, d);
        Tensor dOut = cmd.backward ? Tensor.wrap(gaussian(rnd, cmd.heads * n * d), 1, cmd.heads, n, d) : null;
        AttentionSpec mask = AttentionSpec.DEFAULT.withCausal(cmd.causal);
        Kernels kernels = cmd.kernelsName.equals("scalar") ? Kernels.scalar() : Kernels.preferred();
        RingAttention ring = new RingAttention(kernels, cmd.engineOptions.blockQ, cmd.engineOptions.blockKv,
                cmd.engineOptions.threads(), mpi.size(), cmd.ringOptions.layout == null ? null
                        : org.ringattention.ring.Layout.parse(cmd.ringOptions.layout), LinkModel.UNTHROTTLED);
        double flops = 4.0 * n * n * d * cmd.heads * (cmd.causal ? 0.5 : 1) * (cmd.backward ? 2.5 : 1);
        // Warm-up as bench's (WarmupRule on the slowest rank's times): rank 0 decides, all follow.
        WarmupRule warming = new WarmupRule(Math.max(0, cmd.warmup), cmd.warmupMillis);
        long warmStart = System.nanoTime();
        int run = 0;
        double previous = Double.NaN;
        double last = Double.NaN;
        while (mpi.broadcast(mpi.rank() == 0
                && warming.another(run, (System.nanoTime() - warmStart) / 1e6, previous, last) ? 1 : 0, 0) == 1) {
            previous = last;
            last = timedRun(mpiRing, ring, run++, q, k, v, dOut, mask)[4] / 1e9;
        }
        int warmRuns = run;
        double[] seconds = new double[cmd.reps];
        long[][] hop = new long[cmd.reps][];
        for (int rep = 0; rep < cmd.reps; rep++) {
            hop[rep] = timedRun(mpiRing, ring, run++, q, k, v, dOut, mask);
            seconds[rep] = hop[rep][4] / 1e9;
        }
        if (mpi.rank() == 0) {
            report(mpi, ring, mask, kv, flops, seconds, hop, warmRuns);
        }
        mpiRing.finish();
        return 0;
    }

    /**
     * One run after a barrier: {@link #totals} of the timed pass. As bench times the in-process
     * ring, a forward run counts from the barrier until the rank has its results (setup included),
     * a backward run the backward pass's ring.
     */
    private long[] timedRun(MpiRing mpiRing, RingAttention ring, int run, Tensor q, Tensor k, Tensor v, Tensor dOut,
            AttentionSpec mask) {
        Mpi mpi = mpiRing.mpi();
        mpi.barrier();
        long start = System.nanoTime();
        DeviceResult r = mpiRing.run(ring, run, q, k, v, dOut, mask, FaultInjector.NONE);
        long wall = System.nanoTime() - start;
        return cmd.backward ? totals(mpi, r.backward(), r.backward().wallNanos()) : totals(mpi, r.forward(), wall);
    }

    /**
     * Σ bytes, Σ transfer ns, Σ wait ns and sends over every rank's steps, and the longest
     * {@code wall} of any rank (each rank broadcasts its own).
     */
    private static long[] totals(Mpi mpi, RingReport report, long wall) {
        long bytes = 0;
        long transfer = 0;
        long wait = 0;
        long sends = 0;
        for (StepRecord s : report.steps()) {
            bytes += s.bytesSent();
            transfer += s.transferNanos();
            wait += s.waitNanos();
            sends += s.bytesSent() > 0 ? 1 : 0;
        }
        long[] mine = {bytes, transfer, wait, sends};
        long[] all = new long[5];
        for (int root = 0; root < mpi.size(); root++) {
            for (int i = 0; i < 4; i++) {
                all[i] += mpi.broadcast(mine[i], root);
            }
            all[4] = Math.max(all[4], mpi.broadcast(wall, root));
        }
        return all;
    }

    private void report(Mpi mpi, RingAttention ring, AttentionSpec mask, int kv, double flops, double[] seconds,
            long[][] hop, int warmRuns) {
        PrintWriter out = cmd.spec.commandLine().getOut();
        int median = medianIndex(seconds);
        double[] sorted = seconds.clone();
        Arrays.sort(sorted);
        long[] h = hop[median];
        double hopBytes = h[3] == 0 ? 0 : (double) h[0] / h[3];
        double hopSeconds = h[3] == 0 ? 0 : h[1] / 1e9 / h[3];
        double overlap = h[1] == 0 ? 1 : Math.max(0, Math.min(1, 1 - (double) h[2] / h[1]));
        out.printf(Locale.ROOT, "ring-attention bench --mpi: [1, %d, %d, %d] q, %d kv heads, %s %s, %d ranks of %d"
                + " thread%s, %s layout, blocks %dx%d%n", cmd.heads, cmd.seq, cmd.dim, kv, cmd.causal ? "causal" : "full",
                cmd.backward ? "backward" : "forward", mpi.size(), cmd.engineOptions.threads(),
                cmd.engineOptions.threads() == 1 ? "" : "s", ring.layoutFor(mask), cmd.engineOptions.blockQ,
                cmd.engineOptions.blockKv);
        out.printf(Locale.ROOT, "seconds: median %.4f, min %.4f, max %.4f (%d reps after %d warm-up runs); %.2f GFLOP/s"
                + " at the median%n", seconds[median], sorted[0], sorted[sorted.length - 1], seconds.length, warmRuns,
                flops / seconds[median] / 1e9);
        out.printf(Locale.ROOT, "per hop (median rep): %.0f bytes in %.3f ms (%.3g bytes/s); %.1f%% of transfer time"
                + " hidden behind computing%n", hopBytes, hopSeconds * 1e3, hopSeconds > 0 ? hopBytes / hopSeconds : 0,
                100 * overlap);
        if (cmd.json) {
            Map<String, Object> j = new LinkedHashMap<>();
            j.put("engine", "ring-mpi");
            j.put("ranks", mpi.size());
            j.put("threads_per_rank", cmd.engineOptions.threads());
            j.put("seq", cmd.seq);
            j.put("head_dim", cmd.dim);
            j.put("heads", cmd.heads);
            j.put("kv_heads", kv);
            j.put("causal", cmd.causal);
            j.put("backward", cmd.backward);
            j.put("layout", ring.layoutFor(mask).toString());
            j.put("block_q", cmd.engineOptions.blockQ);
            j.put("block_kv", cmd.engineOptions.blockKv);
            j.put("block_source", cmd.engineOptions.blockSource);
            j.put("warmup_runs", warmRuns);
            j.put("seconds_median", seconds[median]);
            j.put("seconds_min", sorted[0]);
            j.put("seconds_max", sorted[sorted.length - 1]);
            j.put("gflops", flops / seconds[median] / 1e9);
            j.put("hop_bytes", hopBytes);
            j.put("hop_seconds", hopSeconds);
            j.put("hop_bytes_per_second", hopSeconds > 0 ? hopBytes / hopSeconds : 0.0);
            j.put("overlap", overlap);
            out.println(Json.writeCompact(j));
        }
        out.flush();
    }

    private static int medianIndex(double[] x) {
        Integer[] idx = new Integer[x.length];
        for (int i = 0; i < x.length; i++) {
            idx[i] = i;
        }
        Arrays.sort(idx, (a, b) -> Double.compare(x[a], x[b]));
        return idx[x.length / 2];
    }

    private static float[] gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return x;
    }
}
