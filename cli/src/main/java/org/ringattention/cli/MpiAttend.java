package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.Positions;
import org.ringattention.kernel.Kernels;
import org.ringattention.mpi.Mpi;
import org.ringattention.mpi.MpiRing;
import org.ringattention.ring.DeviceResult;
import org.ringattention.ring.FaultInjector;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.NpyHeader;
import org.ringattention.tensor.Tensor;

/**
 * {@code attend --mpi}: each MPI rank is one ring device (P = the world size). Inputs are
 * memory-mapped (float32 little-endian files; others are read whole), so a rank reads only the rows
 * of its shards. Outputs are written collectively: rank 0 creates each output once, at its full
 * size, as a temporary file beside the target (a name all ranks learn by broadcast); every rank
 * writes its rows into it; after a barrier (every rank has written) rank 0 renames them into
 * place. A failure on any rank ends the job (MPI_Abort) before the renames, and rank 0 deletes the
 * temporary files on its way out, so existing outputs stay as they were.
 *
 * <p>Usage errors found before the run are the same on every rank: rank 0 prints them, all ranks
 * exit with their code. The attention rule is {@code attend}'s own ({@link AttendCommand#attentionSpec}):
 * each rank parses the same options and runs the in-process ring's device code, so every option
 * of the kit works here except those that need all rows in one place ({@code --dsinks}, a sum over
 * every query row) or a file layout the mapping does not read ({@code --tensor-layout bnhd}).
 */
final class MpiAttend {

    private static final ValueLayout.OfFloat LE_FLOAT = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final AttendCommand cmd;

    MpiAttend(AttendCommand cmd) {
        this.cmd = cmd;
    }

    int call() throws IOException {
        if (!Mpi.available()) {
            throw CliException.usage("--mpi needs Open MPI (" + Mpi.LIBRARY + "): apt-get install openmpi-bin"
                    + " libopenmpi-dev, then run under mpirun -np P");
        }
        MpiRing mpiRing = MpiRing.start();
        Mpi mpi = mpiRing.mpi();
        PrintWriter err = cmd.spec.commandLine().getErr();
        long start = System.nanoTime();
        Setup s;
        try (Arena arena = Arena.ofShared()) {
            try {
                s = setup(mpi.size(), arena);
            } catch (CliException e) {
                mpiRing.finish();
                if (mpi.rank() == 0) {
                    throw e;
                }
                return e.exitCode(); // rank 0 says why
            }
            long token = mpi.broadcast(new Random().nextLong() & Long.MAX_VALUE, 0);
            Outputs outs = new Outputs(s, token);
            try {
                if (mpi.rank() == 0) {
                    // MPI_Abort elsewhere ends this rank with a signal, past any finally block
                    Runtime.getRuntime().addShutdownHook(Thread.ofPlatform().unstarted(outs::deleteTemporaries));
                    outs.create();
                }
                mpi.barrier(); // the files exist
                DeviceResult r = mpiRing.run(s.ring, 0, s.q, s.k, s.v, s.dOut, s.attention, FaultInjector.NONE);
                outs.write(r);
                mpi.barrier(); // every rank has written its rows
                if (mpi.rank() == 0) {
                    outs.commit();
                }
            } catch (IOException | RuntimeException e) {
                mpiRing.fail(e);
            } finally {
                if (mpi.rank() == 0) {
                    outs.deleteTemporaries();
                }
            }
            if (mpi.rank() == 0 && !cmd.quiet) {
                err.printf("attend: %s, %s, ring float32 over %d MPI ranks, %s layout, blocks %dx%d, %d threads per rank%s"
                        + " in %.3f s -> %s%n", s.shape, s.attention, mpi.size(), s.ring.layoutFor(s.attention),
                        cmd.engineOptions.blockQ, cmd.engineOptions.blockKv, cmd.engineOptions.threads(),
                        s.dOut != null ? ", with gradients" : "", (System.nanoTime() - start) / 1e9, cmd.out);
                err.flush();
            }
        }
        mpiRing.finish();
        return 0;
    }

    /** What every rank needs: the mapped inputs, their shape, the mask and the ring. */
    private record Setup(Tensor q, Tensor k, Tensor v, Tensor dOut, long[] qFileShape, long[] kFileShape,
            AttentionShape shape, AttentionSpec attention, RingAttention ring) {
    }

    private Setup setup(int ranks, Arena arena) throws IOException {
        cmd.checkOptions();
        if (!cmd.precision.equals("float32")) {
            throw CliException.usage("--mpi runs the float32 ring; --precision " + cmd.precision + " is not available"
                    + " with it");
        }
        if (cmd.spec.commandLine().getParseResult().hasMatchedOption("--devices") && cmd.ringOptions.devices != ranks) {
            throw CliException.usage("--devices (" + cmd.ringOptions.devices + ") must equal the MPI world size ("
                    + ranks + ") with --mpi");
        }
        if (cmd.ringOptions.linkBandwidth != null || cmd.ringOptions.linkLatency != null) {
            throw CliException.usage("--link-bandwidth and --link-latency simulate links; with --mpi the links are real");
        }
        Mapped q = map(cmd.q, arena);
        Mapped k = map(cmd.k, arena);
        Mapped v = map(cmd.v, arena);
        Mapped d = cmd.dOut == null ? null : map(cmd.dOut, arena);
        if (!Arrays.equals(k.fileShape, v.fileShape) || k.fileShape.length != q.fileShape.length
                || k.t.dim() != q.t.dim() || k.t.batch() != q.t.batch() || q.t.heads() % k.t.heads() != 0) {
            throw CliException.data("shapes do not fit: " + cmd.q + " " + Arrays.toString(q.fileShape) + ", " + cmd.k
                    + " " + Arrays.toString(k.fileShape) + ", " + cmd.v + " " + Arrays.toString(v.fileShape)
                    + " (need q [B, Hq, Nq, d], k and v [B, Hkv, Nk, d], Hq a multiple of Hkv)");
        }
        if (d != null && !Arrays.equals(d.fileShape, q.fileShape)) {
            throw CliException.data(cmd.dOut + ": shape " + Arrays.toString(d.fileShape) + " differs from " + cmd.q
                    + " shape " + Arrays.toString(q.fileShape));
        }
        AttentionShape shape = AttentionShape.of(q.t, k.t, v.t);
        if (ranks > Math.min(shape.qLen(), shape.kvLen())) {
            throw CliException.usage("the MPI world size (" + ranks + ") must be at most the sequence length ("
                    + Math.min(shape.qLen(), shape.kvLen()) + ")");
        }
        // every rank reads the side inputs (masks, biases, ALiBi slopes, sinks, cu_seqlens) whole
        AttentionSpec attention = cmd.attentionSpec(shape);
        Layout layout = cmd.ringOptions.layout == null ? null : Layout.parse(cmd.ringOptions.layout);
        RingAttention ring = new RingAttention(Kernels.preferred(), cmd.engineOptions.blockQ, cmd.engineOptions.blockKv,
                cmd.engineOptions.threads(), ranks, layout, LinkModel.UNTHROTTLED);
        return new Setup(q.t, k.t, v.t, d == null ? null : d.t, q.fileShape, k.fileShape, shape, attention, ring);
    }

    private record Mapped(Tensor t, long[] fileShape) {
    }

    /** A float32 little-endian C-order file mapped in place; anything else read whole through NpyInputs. */
    private static Mapped map(Path file, Arena arena) throws IOException {
        NpyInputs.Input in = null;
        NpyHeader h;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            h = NpyHeader.parse(file, ch);
            long[] shape = h.shape();
            if (h.dtype() == DType.FLOAT32 && h.byteOrder() == ByteOrder.LITTLE_ENDIAN && !h.fortranOrder()
                    && shape.length >= 2 && shape.length <= 4 && Arrays.stream(shape).allMatch(n -> n >= 1)) {
                int[] dims = {1, 1, 1, 1};
                for (int i = 0; i < shape.length; i++) {
                    dims[4 - shape.length + i] = Math.toIntExact(shape[i]);
                }
                MemorySegment seg = ch.map(FileChannel.MapMode.READ_ONLY, h.dataOffset(), h.dataBytes(), arena);
                return new Mapped(Tensor.of(seg, dims[0], dims[1], dims[2], dims[3]), shape);
            }
        } catch (IOException | ArithmeticException e) {
            throw CliException.data(file + ": " + e.getMessage());
        }
        in = NpyInputs.tensor(file);
        return new Mapped(in.toTensor(), in.array().shape());
    }

    /** The outputs: temporary files beside the targets, created by rank 0, filled by all, renamed by rank 0. */
    private final class Outputs {
        private final List<Path> targets = new ArrayList<>();
        private final List<Path> temps = new ArrayList<>();
        private final List<long[]> shapes = new ArrayList<>();
        private final Setup s;
        private boolean committed;

        Outputs(Setup s, long token) {
            this.s = s;
            long[] lseShape = Arrays.copyOf(s.qFileShape, s.qFileShape.length - 1);
            add(cmd.out, s.qFileShape, token);
            if (cmd.lse != null) {
                add(cmd.lse, lseShape, token);
            }
            if (s.dOut != null) {
                add(cmd.dq, s.qFileShape, token);
                add(cmd.dk, s.kFileShape, token);
                add(cmd.dv, s.kFileShape, token);
            }
        }

        private void add(Path target, long[] shape, long token) {
            Path abs = target.toAbsolutePath();
            targets.add(abs);
            temps.add(abs.resolveSibling("." + abs.getFileName() + ".mpi-" + Long.toHexString(token) + ".tmp"));
            shapes.add(shape);
        }

        void create() throws IOException {
            for (int i = 0; i < temps.size(); i++) {
                byte[] header = NpyHeader.encode(shapes.get(i), DType.FLOAT32);
                long size = header.length + Arrays.stream(shapes.get(i)).reduce(1, Math::multiplyExact) * Float.BYTES;
                try (FileChannel ch = FileChannel.open(temps.get(i), StandardOpenOption.CREATE_NEW,
                        StandardOpenOption.WRITE)) {
                    ch.write(java.nio.ByteBuffer.wrap(header));
                    ch.truncate(size);
                    if (ch.size() < size) {
                        ch.write(java.nio.ByteBuffer.allocate(1), size - 1);
                    }
                }
            }
        }

        void write(DeviceResult r) throws IOException {
            int x = 0;
            int qLen = s.shape.qLen();
            int kLen = s.shape.kvLen();
            rows(x++, r.out(), r.queryRows(), qLen);
            if (cmd.lse != null) {
                lse(x++, r.lse(), r.queryRows(), qLen);
            }
            if (r.dq() != null) {
                rows(x++, r.dq(), r.queryRows(), qLen);
                rows(x++, r.dk(), r.keyRows(), kLen);
                rows(x++, r.dv(), r.keyRows(), kLen);
            }
        }

        /** Writes rows [B, H, n, d] of {@code t} at {@code at} into output i, [B, H, N, d]. */
        private void rows(int i, Tensor t, Positions at, int length) throws IOException {
            float[] a = t.toArray();
            int d = t.dim();
            try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(temps.get(i),
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long base = NpyHeader.encode(shapes.get(i), DType.FLOAT32).length;
                MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 0, ch.size(), arena);
                int n = at.length();
                for (int bh = 0; bh < t.batch() * t.heads(); bh++) {
                    for (int r = 0; r < n; r++) {
                        long off = base + ((long) bh * length + at.at(r)) * d * Float.BYTES;
                        MemorySegment.copy(a, (bh * n + r) * d, m, LE_FLOAT, off, d);
                    }
                }
                m.force();
            }
        }

        private void lse(int i, float[] lse, Positions at, int length) throws IOException {
            try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(temps.get(i),
                    StandardOpenOption.READ, StandardOpenOption.WRITE)) {
                long base = NpyHeader.encode(shapes.get(i), DType.FLOAT32).length;
                MemorySegment m = ch.map(FileChannel.MapMode.READ_WRITE, 0, ch.size(), arena);
                int n = at.length();
                for (int bh = 0; bh < lse.length / Math.max(1, n); bh++) {
                    for (int r = 0; r < n; r++) {
                        m.set(LE_FLOAT, base + ((long) bh * length + at.at(r)) * Float.BYTES, lse[bh * n + r]);
                    }
                }
                m.force();
            }
        }

        synchronized void commit() throws IOException {
            for (int i = 0; i < temps.size(); i++) {
                Files.move(temps.get(i), targets.get(i), StandardCopyOption.ATOMIC_MOVE,
                        StandardCopyOption.REPLACE_EXISTING);
            }
            committed = true;
        }

        synchronized void deleteTemporaries() {
            if (committed) {
                return;
            }
            for (Path p : temps) {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    // best effort: the target is untouched either way
                }
            }
        }
    }
}
