package org.ringattention.ring;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.FiniteInputs;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.KvShard;
import org.ringattention.attention.Positions;
import org.ringattention.attention.QueryShard;
import org.ringattention.attention.RowStatistics;
import org.ringattention.attention.ShardAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tasks.TaskScheduler;
import org.ringattention.tasks.Tasks;
import org.ringattention.tensor.Tensor;

/**
 * Ring attention (Liu, Zaharia, Abbeel) over P devices: the sequence is split into P shards by a
 * {@link Layout}; device i keeps query shard i and its key/value shard travels round the ring
 * ({@link DeviceProtocol} over {@link Link}s), so after P steps every query has met every key. The
 * devices are simulated on one machine ({@link #forward}, {@link #backward}), or one of them runs
 * here and the others elsewhere ({@link #runDevice}, e.g. one per MPI rank). The
 * result equals blockwise attention up to the order in which key blocks are absorbed: with P = 1 it
 * is bit-identical to {@link org.ringattention.attention.BlockwiseAttention}.
 *
 * <p>Per device, memory is its query shard with its running state and results, two key/value
 * buffers (the one it computes on and the one being received), and the workers' tiles: it depends
 * on N / P and the block sizes, not on N. Inputs are split into shards (copied) before the run and
 * results gathered after it, as a host would.
 *
 * <p>Threads: {@code threads} workers shared by the devices of this process (P may exceed the
 * number of cores and the number of threads), one protocol thread per device, and for simulated
 * links one transfer thread per link that copies shards and waits out the simulated link time. For
 * fixed (P, layout, block sizes) results are bit-identical for any number of threads, from run to
 * run, and whether the devices share a process or not.
 */
public final class RingAttention implements AttentionEngine {

    /** A forward result with what the ring measured. */
    public record Forward(AttentionOutput output, RingReport report) {
    }

    /**
     * Gradients with the forward result they came from and what both passes measured
     * ({@code forwardReport} is null when the forward result was given).
     */
    public record Backward(Gradients gradients, AttentionOutput output, RingReport forwardReport,
            RingReport report) {
    }

    private static final long MIN_STALL_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** 30 s plus twice a hop's time, saturating: a link too slow for a long has no stall timeout. */
    static long defaultStallNanos(long hopNanos) {
        return hopNanos >= (Long.MAX_VALUE - MIN_STALL_NANOS) / 2 ? Long.MAX_VALUE : MIN_STALL_NANOS + 2 * hopNanos;
    }

    private final Kernels kernels;
    private final int blockQ;
    private final int blockKv;
    private final int threads;
    private final int devices;
    private final Layout layout;
    private final LinkModel link;
    private final FaultInjector faults;
    private final long stallNanos;

    /**
     * @param layout how tokens are shared out, or null for {@link Layout#defaultFor} the mask
     */
    public RingAttention(Kernels kernels, int blockQ, int blockKv, int threads, int devices, Layout layout,
            LinkModel link) {
        this(kernels, blockQ, blockKv, threads, devices, layout, link, FaultInjector.NONE, 0);
    }

    private RingAttention(Kernels kernels, int blockQ, int blockKv, int threads, int devices, Layout layout,
            LinkModel link, FaultInjector faults, long stallNanos) {
        this.kernels = Objects.requireNonNull(kernels, "kernels");
        if (blockQ < 1 || blockKv < 1) {
            throw new IllegalArgumentException("block sizes must be >= 1, got block-q " + blockQ + ", block-kv "
                    + blockKv);
        }
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (devices < 1) {
            throw new IllegalArgumentException("devices must be >= 1, got " + devices);
        }
        if (stallNanos < 0) {
            throw new IllegalArgumentException("the stall timeout must be >= 0, got " + stallNanos + " ns");
        }
        this.blockQ = blockQ;
        this.blockKv = blockKv;
        this.threads = threads;
        this.devices = devices;
        this.layout = layout;
        this.link = Objects.requireNonNull(link, "link");
        this.faults = Objects.requireNonNull(faults, "faults");
        this.stallNanos = stallNanos;
    }

    /** The same ring with a hook called before every task (for tests that inject failures). */
    public RingAttention withFaults(FaultInjector injector) {
        return new RingAttention(kernels, blockQ, blockKv, threads, devices, layout, link, injector, stallNanos);
    }

    /**
     * The same ring failing a pass in which nothing happens for {@code timeout} (0: the default, 30 s
     * plus twice the simulated time of a hop). Across processes this is how a hung peer is noticed.
     */
    public RingAttention withStallTimeout(Duration timeout) {
        return new RingAttention(kernels, blockQ, blockKv, threads, devices, layout, link, faults, timeout.toNanos());
    }

    public int devices() {
        return devices;
    }

    /** The layout used under {@code spec}. */
    public Layout layoutFor(AttentionSpec spec) {
        return layout != null ? layout : Layout.defaultFor(spec.causal());
    }

    /**
     * The stall timeout of a pass whose key/value shards hold at most {@code kvCapacity} rows: the
     * one set by {@link #withStallTimeout}, else the default for the link's time of one hop.
     */
    long stallNanosFor(AttentionShape shape, int kvCapacity, boolean gradients) {
        if (stallNanos > 0) {
            return stallNanos;
        }
        long hopRows = gradients ? 4 * kvCapacity : 2 * kvCapacity; // K and V; backward also dK and dV
        long hopBytes = hopRows * shape.batch() * shape.kvHeads() * shape.dim() * Float.BYTES;
        return defaultStallNanos(link.nanosFor(hopBytes));
    }

    /** O and LSE of softmax(scale · Q Kᵀ, masked) V, computed round the ring. Inputs must be finite. */
    public Forward forward(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        Setup s = new Setup(q, k, v, spec, allDevices(), Links.inProcess(link));
        RingReport report = s.runForward();
        return new Forward(s.output(), report);
    }

    /** Runs the forward pass round the ring, then the backward pass with {@code dOut}. */
    public Backward backward(Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec) {
        Setup s = new Setup(q, k, v, spec, allDevices(), Links.inProcess(link));
        s.requireGradientInput(dOut);
        RingReport forwardReport = s.runForward();
        RingReport report = s.runBackward(dOut);
        return new Backward(s.gradients(), s.output(), forwardReport, report);
    }

    /**
     * Device {@code device}'s share of a ring whose other devices run elsewhere (other processes),
     * joined to them by {@code links}: the forward pass and, when {@code dOut} is not null, the
     * backward pass. {@code q}, {@code k}, {@code v} and {@code dOut} are whole-sequence tensors (they
     * may be memory-mapped): only the rows of this device's shards are read (and checked to be
     * finite; the keys and values by the load, block by block). The results are bit for
     * bit the rows of those of {@link #forward} and {@link #backward} with the same P, layout and
     * block sizes.
     */
    public DeviceResult runDevice(int device, Tensor q, Tensor k, Tensor v, Tensor dOut, AttentionSpec spec,
            Links links) {
        if (device < 0 || device >= devices) {
            throw new IllegalArgumentException("device " + device + " is not one of 0.." + (devices - 1));
        }
        Setup s = new Setup(q, k, v, spec, new int[] {device}, Objects.requireNonNull(links, "links"));
        if (dOut != null) {
            s.requireGradientInput(dOut);
        }
        RingReport forwardReport = s.runForward();
        RingReport backwardReport = dOut == null ? null : s.runBackward(dOut);
        return s.deviceResult(device, forwardReport, backwardReport);
    }

    private int[] allDevices() {
        int[] all = new int[devices];
        for (int i = 0; i < devices; i++) {
            all[i] = i;
        }
        return all;
    }

    @Override
    public AttentionOutput attend(Tensor q, Tensor k, Tensor v, AttentionSpec spec) {
        return forward(q, k, v, spec).output();
    }

    /**
     * The backward pass round the ring alone: each device starts from its rows of {@code fwd}'s O
     * and LSE (for the bits of {@link #backward}, {@code fwd} is this ring's forward result).
     */
    @Override
    public Gradients gradients(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        return backward(q, k, v, fwd, dOut, spec).gradients();
    }

    /**
     * The backward pass round the ring alone, from {@code fwd} computed before; the result's
     * {@code forwardReport} is null (no forward pass ran).
     */
    public Backward backward(Tensor q, Tensor k, Tensor v, AttentionOutput fwd, Tensor dOut, AttentionSpec spec) {
        Setup s = new Setup(q, k, v, spec, allDevices(), Links.inProcess(link));
        s.requireGradientInput(dOut);
        s.seedForward(fwd);
        RingReport report = s.runBackward(dOut);
        return new Backward(s.gradients(), fwd, null, report);
    }

    @Override
    public String describe() {
        return "ring float32 over " + devices + " devices" + (layout == null ? "" : ", " + layout + " layout")
                + ", blocks " + blockQ + "x" + blockKv + ", " + kernels.name() + " kernels, " + threads + " threads";
    }

    /** One problem split over the devices; {@code local} are the devices of this process. */
    private final class Setup {
        final Tensor q;
        final Tensor k;
        final Tensor v;
        final AttentionShape shape;
        final ShardAttention sa;
        final Layout used;
        final Positions[] qPos;
        final Positions[] kPos;
        final int kvCapacity;
        final int qCapacity;
        final int[] local;
        final Links links;
        final Device[] devs = new Device[devices];
        final RowStatistics[] statistics = new RowStatistics[devices];
        ShardAttention.Workspace[] workspaces;
        int passes;

        Setup(Tensor q, Tensor k, Tensor v, AttentionSpec spec, int[] local, Links links) {
            this.q = q;
            this.k = k;
            this.v = v;
            this.shape = AttentionShape.of(q, k, v);
            this.sa = new ShardAttention(kernels, shape, spec, blockQ, blockKv);
            if (local.length == devices) {
                FiniteInputs.require(threads, new Tensor[] {q, k, v}, "q", "k", "v");
            } // else each device checks its own rows only (the others may be on other machines)
            this.used = layoutFor(spec);
            this.qPos = used.split(shape.qLen(), devices);
            this.kPos = used.split(shape.kvLen(), devices);
            this.qCapacity = maxLength(qPos);
            this.kvCapacity = maxLength(kPos);
            this.local = local;
            this.links = links;
        }

        void requireGradientInput(Tensor dOut) {
            if (dOut.batch() != q.batch() || dOut.heads() != q.heads() || dOut.rows() != q.rows()
                    || dOut.dim() != q.dim()) {
                throw new IllegalArgumentException("dO has shape " + dOut.shape() + ", expected the shape of q "
                        + q.shape());
            }
            if (local.length == devices) {
                FiniteInputs.require(threads, new Tensor[] {dOut}, "dO");
            }
        }

        RingReport runForward() {
            for (int i : local) {
                Tensor rows = Shards.gather(q, qPos[i]);
                if (local.length < devices) {
                    FiniteInputs.require(threads, new Tensor[] {rows}, "q (rows of device " + i + ")");
                }
                QueryShard qs = sa.queryShard(i, rows, qPos[i]);
                devs[i] = new Device(i, qs, ownShard(i, false), sa.kvBuffer(kvCapacity, false));
            }
            Ring.Work work = (d, step) -> sa.forwardStep(d.queries, d.current, step == 0, step == devices - 1);
            return run(work, false);
        }

        /** The devices' query shards with their rows of a forward result computed before (no forward pass). */
        void seedForward(AttentionOutput fwd) {
            Tensor out = fwd.out();
            if (out.batch() != q.batch() || out.heads() != q.heads() || out.rows() != q.rows()
                    || out.dim() != q.dim() || fwd.lse().length != q.batch() * q.heads() * q.rows()) {
                throw new IllegalArgumentException("the forward result O " + out.shape() + " with "
                        + fwd.lse().length + " LSE values does not fit q " + q.shape());
            }
            for (int i : local) {
                QueryShard qs = sa.queryShard(i, Shards.gather(q, qPos[i]), qPos[i], Shards.gather(out, qPos[i]),
                        Shards.gatherRows(fwd.lse(), qPos[i], shape.qLen()));
                devs[i] = new Device(i, qs, null, null);
            }
        }

        RingReport runBackward(Tensor dOut) {
            for (int i : local) {
                Device f = devs[i];
                Tensor rows = Shards.gather(dOut, qPos[i]);
                if (local.length < devices) {
                    FiniteInputs.require(threads, new Tensor[] {rows}, "dO (rows of device " + i + ")");
                }
                statistics[i] = sa.rowStatistics(f.queries, rows);
                TaskScheduler.runHere(statistics[i], null);
                devs[i] = new Device(i, f.queries, ownShard(i, true), sa.kvBuffer(kvCapacity, true));
            }
            Ring.Work work = new Ring.Work() {
                @Override
                public Tasks<ShardAttention.Workspace> tasks(Device d, int step) {
                    return sa.gradientStep(statistics[d.id], d.current);
                }

                @Override
                public void stop() {
                    for (int i : local) {
                        statistics[i].abandon();
                    }
                }
            };
            RingReport report = run(work, true);
            for (int i : local) {
                Device d = devs[i];
                if (d.current.owner() != d.id) {
                    throw new IllegalStateException("device " + d.id + " ended with the shard of device "
                            + d.current.owner());
                }
                sa.finishQueryGradients(d.queries);
                sa.finishKeyValueGradients(d.current);
            }
            return report;
        }

        private KvShard ownShard(int i, boolean backward) {
            KvShard own = sa.kvBuffer(kvCapacity, backward);
            sa.load(own, i, k, v, kPos[i]);
            return own;
        }

        /** Runs the ring (the backward pass when {@code gradients}). */
        private RingReport run(Ring.Work work, boolean gradients) {
            if (workspaces == null) {
                workspaces = new ShardAttention.Workspace[threads];
                for (int t = 0; t < threads; t++) {
                    workspaces[t] = sa.workspace(qCapacity, kvCapacity);
                }
            }
            long stall = stallNanosFor(shape, kvCapacity, gradients);
            Device[] mine = new Device[local.length];
            for (int x = 0; x < local.length; x++) {
                mine[x] = devs[local[x]];
            }
            long start = System.nanoTime();
            List<StepRecord> records = new Ring(mine, devices, gradients, links, passes++, faults, work, workspaces,
                    stall, owner -> kPos[owner]).run();
            long wall = System.nanoTime() - start;
            long[] bytes = new long[devices];
            for (int i : local) {
                bytes[i] = devs[i].bytes();
            }
            long wsBytes = 0;
            for (ShardAttention.Workspace w : workspaces) {
                wsBytes += w.bytes();
            }
            return new RingReport(devices, used, records, bytes, wsBytes, wall);
        }

        AttentionOutput output() {
            Tensor out = Tensor.zeros(shape.batch(), shape.qHeads(), shape.qLen(), shape.dim());
            float[] lse = new float[shape.batch() * shape.qHeads() * shape.qLen()];
            for (Device d : devs) {
                Shards.scatter(d.queries.out(), qPos[d.id], out);
                Shards.scatterRows(d.queries.lse(), qPos[d.id], lse, shape.qLen());
            }
            long computed = 0;
            long skipped = 0;
            for (ShardAttention.Workspace w : workspaces) {
                computed += w.tilesComputed();
                skipped += w.tilesSkipped();
            }
            return new AttentionOutput(out, lse, computed, skipped);
        }

        Gradients gradients() {
            int b = shape.batch();
            int d = shape.dim();
            Tensor dq = Tensor.zeros(b, shape.qHeads(), shape.qLen(), d);
            Tensor dk = Tensor.zeros(b, shape.kvHeads(), shape.kvLen(), d);
            Tensor dv = Tensor.zeros(b, shape.kvHeads(), shape.kvLen(), d);
            for (Device dev : devs) {
                int n = kPos[dev.id].length();
                Shards.scatter(dev.queries.dq(), qPos[dev.id], dq);
                Shards.scatter(Tensor.wrap(dev.current.dkRows(), b, shape.kvHeads(), n, d), kPos[dev.id], dk);
                Shards.scatter(Tensor.wrap(dev.current.dvRows(), b, shape.kvHeads(), n, d), kPos[dev.id], dv);
            }
            return new Gradients(dq, dk, dv);
        }

        DeviceResult deviceResult(int i, RingReport forwardReport, RingReport backwardReport) {
            Device dev = devs[i];
            int b = shape.batch();
            int d = shape.dim();
            int n = kPos[i].length();
            Tensor dq = null;
            Tensor dk = null;
            Tensor dv = null;
            if (backwardReport != null) {
                dq = dev.queries.dq();
                dk = Tensor.wrap(dev.current.dkRows(), b, shape.kvHeads(), n, d);
                dv = Tensor.wrap(dev.current.dvRows(), b, shape.kvHeads(), n, d);
            }
            return new DeviceResult(i, qPos[i], kPos[i], dev.queries.out(), dev.queries.lse(), dq, dk, dv,
                    forwardReport, backwardReport);
        }
    }

    private static int maxLength(Positions[] shards) {
        int max = 0;
        for (Positions p : shards) {
            max = Math.max(max, p.length());
        }
        return max;
    }
}
