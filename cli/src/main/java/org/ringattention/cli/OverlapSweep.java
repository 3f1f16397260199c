package org.ringattention.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.ToLongFunction;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.ring.RingReport;
import org.ringattention.ring.StepRecord;
import org.ringattention.tensor.Tensor;

/**
 * Runs the ring forward pass (full mask, contiguous layout) on random inputs of N = P·c tokens and
 * measures each shard size c: the medians, over every device's steps that send (0..P−2) and every
 * repetition, of compute time, wait time, transfer time and step time = compute + wait (the
 * median of the per-step sums). A sweep runs the sizes round-robin, one repetition of each at a
 * time, so that a burst of other load on the machine spreads over all sizes instead of spoiling
 * one.
 */
final class OverlapSweep {

    /** One swept size: times in milliseconds, F in FLOP/s per device. */
    record Row(int c, int n, double computeMs, double transferMs, double waitMs, double stepMs, double overlap,
            long bytes, double flopsPerSecond) {

        double maxComputeTransferMs() {
            return Math.max(computeMs, transferMs);
        }
    }

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;
    private final int threads;
    private final int devices;
    private final OverlapModel model;

    OverlapSweep(Kernels kernels, int blockQ, int blockKv, int threads, int devices, OverlapModel model) {
        this.kernels = kernels;
        this.blockQ = blockQ;
        this.blockKv = blockKv;
        this.threads = threads;
        this.devices = devices;
        this.model = model;
    }

    /** Runs shard size {@code c} {@code reps} times in a row over {@code link}. */
    Row measure(int c, LinkModel link, int reps) {
        Size size = new Size(c, link);
        for (int r = 0; r < reps; r++) {
            size.run();
        }
        return size.row();
    }

    /** Runs every size {@code reps} times over {@code link}, round-robin; calls {@code afterRun} after each run. */
    List<Row> measure(List<Integer> sizes, LinkModel link, int reps, Runnable afterRun) {
        List<Size> all = new ArrayList<>();
        for (int c : sizes) {
            all.add(new Size(c, link));
        }
        for (int r = 0; r < reps; r++) {
            for (Size size : all) {
                size.run();
                afterRun.run();
            }
        }
        return all.stream().map(Size::row).toList();
    }

    /** One shard size: its inputs and ring, and what its runs measured so far. */
    private final class Size {
        final int c;
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final RingAttention ring;
        final List<StepRecord> sending = new ArrayList<>();
        final List<Double> overlaps = new ArrayList<>();

        Size(int c, LinkModel link) {
            this.c = c;
            SplittableRandom rnd = new SplittableRandom(c);
            this.q = gaussian(rnd, devices * c);
            this.k = gaussian(rnd, devices * c);
            this.v = gaussian(rnd, devices * c);
            this.ring = new RingAttention(kernels, blockQ, blockKv, threads, devices, Layout.CONTIGUOUS, link);
        }

        void run() {
            RingReport report = ring.forward(q, k, v, AttentionSpec.DEFAULT).report();
            for (StepRecord s : report.steps()) {
                if (s.step() < devices - 1) {
                    sending.add(s);
                }
            }
            overlaps.add(report.overlap());
        }

        Row row() {
            if (sending.isEmpty()) {
                throw new IllegalStateException("a ring of " + devices + " devices reported no step that sends");
            }
            double compute = medianMs(StepRecord::computeNanos);
            return new Row(c, devices * c, compute, medianMs(StepRecord::transferNanos),
                    medianMs(StepRecord::waitNanos), medianMs(s -> s.computeNanos() + s.waitNanos()),
                    median(overlaps.stream().mapToDouble(Double::doubleValue).toArray()),
                    (long) median(sending.stream().mapToDouble(StepRecord::bytesSent).toArray()),
                    model.flops(c) / (compute / 1e3));
        }

        private double medianMs(ToLongFunction<StepRecord> nanos) {
            return median(sending.stream().mapToDouble(s -> nanos.applyAsLong(s) / 1e6).toArray());
        }
    }

    /**
     * The smallest swept c from which on every step time is within (1 + {@code tolerance}) of the
     * compute time (sending hidden), or -1 when the largest size is not.
     */
    static int hiddenFrom(List<Row> rows, double tolerance) {
        int from = -1;
        for (int i = rows.size() - 1; i >= 0 && rows.get(i).stepMs() <= (1 + tolerance) * rows.get(i).computeMs(); i--) {
            from = rows.get(i).c();
        }
        return from;
    }

    /**
     * Where the measured transfer time first drops below the compute time, interpolated on the
     * log-log axes between the two sizes around it; NaN when it does not cross within the sweep.
     */
    static double crossing(List<Row> rows) {
        for (int i = 0; i + 1 < rows.size(); i++) {
            Row a = rows.get(i);
            Row b = rows.get(i + 1);
            double ra = Math.log(a.transferMs() / a.computeMs());
            double rb = Math.log(b.transferMs() / b.computeMs());
            if (ra >= 0 && rb < 0) {
                double t = ra / (ra - rb);
                return Math.exp(Math.log(a.c()) + t * (Math.log(b.c()) - Math.log(a.c())));
            }
        }
        return Double.NaN;
    }

    private Tensor gaussian(SplittableRandom rnd, int n) {
        float[] x = new float[model.heads() * n * model.dim()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) rnd.nextGaussian();
        }
        return Tensor.wrap(x, 1, model.heads(), n, model.dim());
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : (s[m - 1] + s[m]) / 2;
    }
}
