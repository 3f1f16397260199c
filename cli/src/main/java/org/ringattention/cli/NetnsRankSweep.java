package org.ringattention.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.bench.WarmupRule;
import org.ringattention.kernel.Kernels;
import org.ringattention.mpi.Mpi;
import org.ringattention.mpi.MpiRing;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.FaultInjector;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.StepRecord;
import org.ringattention.tensor.StagedFiles;
import org.ringattention.tensor.Tensor;

/**
 * The ranks' side of {@code experiment netns-overlap}, one ring device per MPI rank, each rank in a
 * network namespace of its own: the ring forward pass (full mask, contiguous layout) at N = P·c
 * for every shard size c, the steps that send (0..P−2) of every rank gathered on rank 0.
 *
 * <p>In order: a warm-up (one run at every size, then runs at the largest until {@link WarmupRule}
 * says the times settled); F, the median compute time of a step at the model's size c, and B, a
 * ring exchange of the largest size's K and V with nothing to compute; rank 0 writes them to
 * {@code f.txt} in the exchange folder and, when the driver shapes the links after seeing F, waits
 * for {@code shaped.txt} (and measures B again on the shaped links); then the sweep, the sizes
 * round-robin {@code reps} times, each step's compute, wait, transfer and bytes to {@code steps.csv}.
 * Files are written to a temporary name and renamed, so the driver never reads half a file.
 */
final class NetnsRankSweep {

    /** The tag of the bandwidth probe, apart from the ring's (which count up from 0 by run). */
    private static final int PROBE_TAG = 30_000;
    private static final long SHAPED_WAIT_MILLIS = 120_000;

    private final NetnsOverlapCommand cmd;
    private final Path folder;

    NetnsRankSweep(NetnsOverlapCommand cmd, Path folder) {
        this.cmd = cmd;
        this.folder = folder;
    }

    int call() throws IOException {
        MpiRing mpiRing = MpiRing.start();
        Mpi mpi = mpiRing.mpi();
        int p = mpi.size();
        List<Integer> sizes = cmd.sizes();
        int modelC = cmd.modelSize(sizes);
        Kernels kernels = Kernels.preferred();
        int[] run = {0};
        List<Size> all = new ArrayList<>();
        for (int c : sizes) {
            all.add(new Size(c, p, new RingAttention(kernels, cmd.engineOptions.blockQ, cmd.engineOptions.blockKv,
                    cmd.engineOptions.threads(), p, Layout.CONTIGUOUS, LinkModel.UNTHROTTLED)));
        }
        for (Size s : all) {
            s.run(mpiRing, mpi, run[0]++);
        }
        Size largest = all.get(all.size() - 1);
        WarmupRule warming = new WarmupRule(0, cmd.warmupMillis);
        long start = System.nanoTime();
        double previous = Double.NaN;
        double last = Double.NaN;
        int warm = 0;
        while (mpi.broadcast(mpi.rank() == 0 && warming.another(warm, (System.nanoTime() - start) / 1e6, previous,
                last) ? 1 : 0, 0) == 1) {
            previous = last;
            last = largest.run(mpiRing, mpi, run[0]++);
            warm++;
        }
        Size model = all.get(sizes.indexOf(modelC));
        model.steps.clear();
        for (int r = 0; r < cmd.sweepOptions.reps; r++) {
            model.run(mpiRing, mpi, run[0]++);
        }
        double computeNanos = model.medianCompute();
        int probeBytes = Math.toIntExact(8L * largest.c * cmd.sweepOptions.dim * cmd.sweepOptions.heads);
        double unshaped = probe(mpi, probeBytes);
        if (mpi.rank() == 0) {
            write("f.txt", String.format(Locale.ROOT, "compute_ns=%.0f%nc=%d%nprobe_bytes=%d%nprobe_ns=%.0f%n",
                    computeNanos, modelC, probeBytes, unshaped));
        }
        double probeNanos = unshaped;
        if (cmd.waitForShaping) {
            if (mpi.rank() == 0) {
                awaitShaped();
            }
            mpi.barrier();
            probeNanos = probe(mpi, probeBytes);
        }
        for (Size s : all) {
            s.steps.clear();
        }
        for (int r = 0; r < cmd.sweepOptions.reps; r++) {
            for (Size s : all) {
                s.run(mpiRing, mpi, run[0]++);
            }
        }
        if (mpi.rank() == 0) {
            StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                    "# probe_bytes=%d probe_ns=%.0f warmup_runs=%d%nc,compute_ns,wait_ns,transfer_ns,bytes%n",
                    probeBytes, probeNanos, warm));
            for (Size s : all) {
                for (long[] st : s.steps) {
                    sb.append(s.c).append(',').append(st[0]).append(',').append(st[1]).append(',').append(st[2])
                            .append(',').append(st[3]).append('\n');
                }
            }
            write("steps.csv", sb.toString());
        }
        mpiRing.finish();
        return 0;
    }

    /** The median over 5 ring exchanges of {@code bytes}: the slowest rank's time of each. */
    private static double probe(Mpi mpi, int bytes) {
        double[] t = new double[5];
        for (int i = 0; i < t.length; i++) {
            long mine = mpi.ringExchange(bytes, PROBE_TAG + i);
            long max = 0;
            for (int root = 0; root < mpi.size(); root++) {
                max = Math.max(max, mpi.broadcast(mine, root));
            }
            t[i] = max;
        }
        return OverlapSweep.median(t);
    }

    private void awaitShaped() throws IOException {
        Path shaped = folder.resolve("shaped.txt");
        long end = System.currentTimeMillis() + SHAPED_WAIT_MILLIS;
        while (!Files.exists(shaped)) {
            if (System.currentTimeMillis() > end) {
                throw new IOException("the driver did not shape the links within " + SHAPED_WAIT_MILLIS / 1000
                        + " s");
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while waiting for the links to be shaped", e);
            }
        }
    }

    /** Writes {@code name} in the exchange folder whole: the driver polls for it, so it must never see a part. */
    private void write(String name, String text) throws IOException {
        try (StagedFiles staged = new StagedFiles()) {
            staged.stage(folder.resolve(name), temp -> Files.writeString(temp, text, StandardCharsets.UTF_8));
            staged.commit();
        }
    }

    /** One shard size: its inputs and ring, and the sending steps of every rank measured so far. */
    private final class Size {
        final int c;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final RingAttention ring;
        final int devices;
        final List<long[]> steps = new ArrayList<>(); // {compute, wait, transfer, bytes}, on rank 0

        Size(int c, int devices, RingAttention ring) {
            this.c = c;
            this.devices = devices;
            this.ring = ring;
            SplittableRandom rnd = new SplittableRandom(c);
            int n = devices * c;
            q = gaussian(rnd, n);
            k = gaussian(rnd, n);
            v = gaussian(rnd, n);
        }

        /** One forward pass; returns the slowest rank's wall seconds. */
        double run(MpiRing mpiRing, Mpi mpi, int run) {
            mpi.barrier();
            DeviceResult r = mpiRing.run(ring, run, q, k, v, null, AttentionSpec.DEFAULT, FaultInjector.NONE);
            List<StepRecord> mine = r.forward().steps().stream().filter(s -> s.step() < devices - 1).toList();
            for (int root = 0; root < mpi.size(); root++) {
                int count = (int) mpi.broadcast(mine.size(), root);
                for (int i = 0; i < count; i++) {
                    StepRecord s = root == mpi.rank() ? mine.get(i) : null;
                    long[] st = new long[4];
                    st[0] = mpi.broadcast(s == null ? 0 : s.computeNanos(), root);
                    st[1] = mpi.broadcast(s == null ? 0 : s.waitNanos(), root);
                    st[2] = mpi.broadcast(s == null ? 0 : s.transferNanos(), root);
                    st[3] = mpi.broadcast(s == null ? 0 : s.bytesSent(), root);
                    if (mpi.rank() == 0) {
                        steps.add(st);
                    }
                }
            }
            long wall = 0;
            for (int root = 0; root < mpi.size(); root++) {
                wall = Math.max(wall, mpi.broadcast(r.forward().wallNanos(), root));
            }
            return wall / 1e9;
        }

        /** The median compute nanoseconds of the steps gathered (on rank 0; 0 elsewhere). */
        double medianCompute() {
            return steps.isEmpty() ? 0 : OverlapSweep.median(steps.stream().mapToDouble(s -> s[0]).toArray());
        }

        private Tensor gaussian(SplittableRandom rnd, int n) {
            float[] x = new float[cmd.sweepOptions.heads * n * cmd.sweepOptions.dim];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) rnd.nextGaussian();
            }
            return Tensor.wrap(x, 1, cmd.sweepOptions.heads, n, cmd.sweepOptions.dim);
        }
    }
}
