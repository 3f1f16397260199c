package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.StreamingAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.MappedNpy;
import org.ringattention.tensor.NpyFormatException;
import org.ringattention.tensor.Tensor;

/**
 * The streaming path of {@code attend}: float32 {@code .npy} inputs memory-mapped read-only,
 * outputs created at their final size as {@code TARGET.partial} beside their targets and written
 * through their mappings, {@link StreamingAttention} computing query chunk after query chunk. The
 * heap holds one query chunk, one key/value chunk and the workers' buffers, so the sequence may be
 * far larger than the heap (forward pass and LSE; with {@code --do} the gradients too, see
 * {@link StreamedGradients}).
 *
 * <p>After each query chunk the outputs are forced to disk and the {@link Checkpoint} beside O
 * ({@code O.npy.checkpoint}) records it; SIGINT or SIGTERM stops the run at once (the engine
 * between two tiles, the JVM without waiting for it: {@link StopSignal}), keeping the partial files
 * and the checkpoint, and {@code --resume} continues
 * from the first chunk not recorded. When every chunk is done the partial files are renamed over
 * their targets and the checkpoint is deleted: no file under a target's name changes before that.
 */
final class StreamedAttend {

    /**
     * Largest chunk chosen automatically: K and V are reloaded N/chunk times, a copy already small
     * at this size beside the 4·chunk·d flops each key serves, so larger chunks would only take heap
     * (and lose more work to a stop: the query chunk under way is recomputed on resumption).
     */
    static final int MAX_AUTO_CHUNK = 16384;

    /**
     * Test hook: once this many query chunks are recorded, the run holds in its next key/value chunk
     * until the JVM exits, so a test can stop it part-way and see that the stop does not wait for
     * the computation (it would wait forever).
     */
    static final String HOLD_PROPERTY = "ring-attention.test.hold-after-chunks";

    /** The exit code of a run stopped by a signal (128 + SIGINT's number, what shells report). */
    static final int STOPPED = 130;

    private final AttendCommand cmd;
    private final PrintWriter err;

    StreamedAttend(AttendCommand cmd) {
        this.cmd = cmd;
        this.err = cmd.spec.commandLine().getErr();
    }

    /**
     * Why the streaming path cannot run these options, or null when it can: it computes the
     * float32 forward pass (and LSE) of float32 little-endian C-order {@code .npy} files.
     */
    static String whyNot(AttendCommand cmd) {
        if (cmd.dOut != null && cmd.dsinks != null) {
            return "--dsinks (the sinks' gradient runs on the heap path)";
        }
        if (cmd.dOut != null && cmd.resume) {
            return "--resume with --do (a run with gradients keeps no checkpoint: rerun it whole)";
        }
        if (cmd.mpi || cmd.ringOptions.active()) {
            return cmd.mpi ? "--mpi" : "the ring options (--devices)";
        }
        if (cmd.emulate.emulate != null) {
            return "--emulate";
        }
        if (!"float32".equals(cmd.precision)) {
            return "--precision " + cmd.precision;
        }
        if (cmd.tensorLayout != null && TensorLayout.parse(cmd.tensorLayout) == TensorLayout.BNHD) {
            return "--tensor-layout bnhd (its inputs are mapped as [B, H, N, d])";
        }
        if (cmd.cuSeqlensQ != null) {
            return "--cu-seqlens-q (packed sequences run on the heap path)";
        }
        for (Path p : new Path[] {cmd.q, cmd.k, cmd.v, cmd.out, cmd.lse, cmd.dOut, cmd.dq, cmd.dk, cmd.dv}) {
            if (p != null && TensorPath.of(p, null).isSafetensors()) {
                return "safetensors arguments (" + p + ")";
            }
        }
        for (Path p : new Path[] {cmd.q, cmd.k, cmd.v, cmd.dOut}) {
            if (p != null && !MappedNpy.mappable(p)) {
                return p + " (only float32 little-endian C-order .npy files are memory-mapped)";
            }
        }
        return null;
    }

    /**
     * Heap the in-memory path needs for inputs of these sizes, roughly: each input is read as its
     * file's bytes and converted to floats (two copies while loading), K and V are packed once more,
     * O is computed and copied for writing; with gradients dO is read too, dQ is summed in two
     * levels and copied for writing, dK and dV (and K as rows) are held and copied.
     */
    static long heapPathBytes(AttendCommand cmd) {
        try {
            long q = Files.size(cmd.q);
            long kv = Files.size(cmd.k) + Files.size(cmd.v);
            long grads = cmd.dOut == null ? 0 : 2 * Files.size(cmd.dOut) + 3 * q + 5 * kv / 2;
            return 2 * (q + kv) + kv + 2 * q + grads;
        } catch (IOException e) {
            return 0; // the heap path reports the file's problem
        }
    }

    Integer call(long start) throws IOException {
        try (Arena arena = Arena.ofShared()) {
            return run(arena, start);
        }
    }

    private Integer run(Arena arena, long start) throws IOException {
        MappedNpy qm = map(cmd.q, arena);
        MappedNpy km = map(cmd.k, arena);
        MappedNpy vm = map(cmd.v, arena);
        Tensor q = qm.tensor();
        Tensor k = km.tensor();
        Tensor v = vm.tensor();
        long[] qShape = qm.shape();
        if (qShape.length < 2 || km.shape().length != qShape.length || !Arrays.equals(km.shape(), vm.shape())
                || k.dim() != q.dim() || k.batch() != q.batch() || q.heads() % k.heads() != 0) {
            throw CliException.data("shapes do not fit: " + cmd.q + " " + Arrays.toString(qShape) + ", " + cmd.k
                    + " " + Arrays.toString(km.shape()) + ", " + cmd.v + " " + Arrays.toString(vm.shape())
                    + " (need q [B, Hq, Nq, d], k and v [B, Hkv, Nk, d], Hq a multiple of Hkv)");
        }
        AttentionShape shape = AttentionShape.of(q, k, v);
        AttentionSpec attention = cmd.attentionSpec(shape);
        if (cmd.dOut != null) {
            return new StreamedGradients(cmd, err).run(arena, start, qm, km, vm, shape, attention);
        }
        Checkpoint.Options options;
        Checkpoint resumed = cmd.resume ? Checkpoint.read(Checkpoint.pathFor(cmd.out)) : null;
        EngineOptions eo = cmd.engineOptions;
        if (resumed != null) {
            if (eo.blockQGiven == null && eo.blockKvGiven == null) { // the blocks that made the finished chunks
                eo.blockQ = resumed.options().blockQ();
                eo.blockKv = resumed.options().blockKv();
                eo.blockSource = "checkpoint";
            }
        } else {
            eo.useTuned(shape.dim(), attention.causal(), false, err);
        }
        int threads = eo.threads();
        int chunk = resumed != null ? resumed.options().chunk() : chunkRows(cmd, shape, eo.blockQ, eo.blockKv, threads,
                false);
        List<Path> sideInputs = new ArrayList<>();
        for (Path p : new Path[] {cmd.segments, cmd.alibi, cmd.sinks, cmd.keepMask, cmd.bias}) {
            if (p != null) {
                sideInputs.add(p);
            }
        }
        options = new Checkpoint.Options(shape.toString(), attention.toString(), eo.blockQ, eo.blockKv, chunk,
                cmd.lse != null);
        StreamingAttention engine = engine(eo, shape, threads, chunk);
        List<Path> inputs = new ArrayList<>(List.of(cmd.q, cmd.k, cmd.v));
        inputs.addAll(sideInputs);
        Checkpoint fresh = Checkpoint.of(inputs, options, engine.queryChunks(shape.qLen()));
        int firstChunk = 0;
        Path cpFile = Checkpoint.pathFor(cmd.out);
        Path oPart = partial(cmd.out);
        Path lPart = cmd.lse == null ? null : partial(cmd.lse);
        long[] lseShape = Arrays.copyOf(qShape, qShape.length - 1);
        MappedNpy om;
        MappedNpy lm = null;
        if (resumed != null) {
            String mismatch = resumed.mismatch(fresh);
            if (mismatch != null) {
                throw CliException.data(cpFile + ": the checkpoint does not match this run (" + mismatch
                        + "); run without --resume to start over");
            }
            if (!MappedNpy.hasSizeOf(oPart, qShape) || (lPart != null && !MappedNpy.hasSizeOf(lPart, lseShape))) {
                throw CliException.data(cpFile + ": the partial output " + (MappedNpy.hasSizeOf(oPart, qShape) ? lPart
                        : oPart) + " is missing or has the wrong size; run without --resume to start over");
            }
            om = MappedNpy.openReadWrite(oPart, qShape, arena);
            if (lPart != null) {
                lm = MappedNpy.openReadWrite(lPart, lseShape, arena);
            }
            firstChunk = resumed.done();
        } else {
            if (cmd.resume) {
                note("no checkpoint " + cpFile + ": starting from the beginning");
            } else if (Files.exists(cpFile)) {
                note("discarding the checkpoint " + cpFile + " of an earlier run (--resume continues one)");
            }
            Files.deleteIfExists(cpFile);
            Files.deleteIfExists(oPart);
            om = MappedNpy.create(oPart, qShape, arena);
            if (lPart != null) {
                Files.deleteIfExists(lPart);
                lm = MappedNpy.create(lPart, lseShape, arena);
            }
            fresh.withDone(0).write(cpFile);
        }
        Tensor out = om.tensor();
        Tensor lseT = lm == null ? null : lm.view(shape.batch(), shape.qHeads(), shape.qLen(), 1);
        int chunks = engine.queryChunks(shape.qLen());
        // progress counts MFLOP: FLOP counts of long runs (10^15 and more) overflow the bar's ETA arithmetic
        long flopsPerPair = 4L * shape.dim();
        long work = engine.plannedPairs(shape, attention, firstChunk) * flopsPerPair / 1_000_000;
        java.util.concurrent.atomic.AtomicLong flopsDone = new java.util.concurrent.atomic.AtomicLong();
        long heap = StreamingAttention.heapBytes(shape, chunk, engine.chunkKv(), eo.blockQ, eo.blockKv, threads);
        String path = String.format("streaming path (mapped inputs, query chunks of %d rows x key/value chunks of %d,"
                + " about %d MiB of heap of %d MiB)", chunk, engine.chunkKv(), heap >> 20,
                Runtime.getRuntime().maxMemory() >> 20);
        if (!cmd.quiet) {
            note(path + (firstChunk > 0 ? ", resuming at query chunk " + (firstChunk + 1) + " of " + chunks
                    : ", " + chunks + " query chunks"));
        }
        int holdAfter = Integer.getInteger(HOLD_PROPERTY, -1);
        java.util.concurrent.atomic.AtomicReference<Progress> bar = new java.util.concurrent.atomic.AtomicReference<>();
        StopSignal signal = new StopSignal(firstChunk, doneChunks -> {
            Progress p = bar.get();
            if (p != null) {
                p.close(); // its last frame, then the message on a line of its own
            }
            err.printf("ring-attention: attend: stopped after %d of %d query chunks; the checkpoint %s keeps them"
                    + " (rerun with --resume to continue)%n", doneChunks, chunks, cpFile);
            err.flush();
        });
        Thread hook = new Thread(signal::onSignal, "attend-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        StreamingAttention.Result result;
        MappedNpy oFinal = om;
        MappedNpy lFinal = lm;
        try (Progress progress = Progress.start(err, "attend", work, cmd.quiet, " GFLOP", 1000)) {
            bar.set(progress);
            result = engine.forward(q, k, v, attention, out, lseT, firstChunk, new StreamingAttention.Listener() {
                @Override
                public void chunkDone(int c, int n, long pairs) {
                    signal.record(c + 1, () -> {
                        oFinal.force();
                        if (lFinal != null) {
                            lFinal.force();
                        }
                        fresh.withDone(c + 1).write(cpFile);
                    });
                }

                @Override
                public void pairsDone(long pairs) {
                    long before = flopsDone.getAndAdd(pairs * flopsPerPair);
                    progress.stepBy((before + pairs * flopsPerPair) / 1_000_000 - before / 1_000_000);
                }

                @Override
                public void kvChunkDone(int c) {
                    progress.message(" chunk " + (c + 1) + "/" + chunks);
                    if (holdAfter >= 0 && c >= holdAfter) {
                        holdUntilExit();
                    }
                }
            }, signal::stopRequested);
        } catch (StreamingAttention.Stopped e) {
            signal.reportOnce();
            signal.finished();
            return STOPPED;
        } catch (java.io.UncheckedIOException e) {
            signal.finished();
            throw e.getCause();
        } catch (IllegalArgumentException e) {
            signal.finished();
            throw CliException.data(e.getMessage());
        } catch (RuntimeException | Error e) {
            signal.finished();
            throw e;
        }
        if (!signal.startFinishing()) {
            return STOPPED; // stopped after the last chunk was recorded: the JVM is exiting, the targets stay
        }
        try {
            om.force();
            if (lm != null) {
                lm.force();
            }
            move(oPart, cmd.out);
            if (lPart != null) {
                move(lPart, cmd.lse);
            }
            Files.deleteIfExists(cpFile);
        } finally {
            signal.finished();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // shutting down already: the hook has been told the run is over
            }
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!cmd.quiet) {
            // the guide's count for full and causal attention (half the pairs); computed pairs otherwise
            double flops = 4.0 * result.pairs() * shape.dim();
            if (cmd.window == null && cmd.windowLeft == null && cmd.windowRight == null && cmd.segments == null
                    && cmd.keepMask == null && firstChunk == 0) {
                flops = 4.0 * shape.batch() * shape.qHeads() * shape.qLen() * shape.kvLen() * shape.dim()
                        * (attention.causal() ? 0.5 : 1.0);
            }
            err.printf("attend: %s, %s, %s, blocks %dx%d%s, %s kernels, %d threads, %d query chunks%s in %.3f s"
                    + " (%.1f GFLOP/s) -> %s%n", shape, attention, path, eo.blockQ, eo.blockKv,
                    eo.blockSource.equals("given") || eo.blockSource.equals("default") ? "" : " (" + eo.blockSource
                            .replaceFirst(" \\(.*", "") + ")", Kernels.preferred().name(), threads, result.chunksRun(),
                    firstChunk > 0 ? " (resumed at " + (firstChunk + 1) + ")" : "", seconds,
                    flops / Math.max(seconds, 1e-9) / 1e9, cmd.out);
            err.flush();
        }
        return 0;
    }

    /**
     * The chunk size: {@code --chunk} when given, else the largest multiple of the blocks' unit up
     * to {@link #MAX_AUTO_CHUNK} whose buffers take at most 40 % of the heap (the rest is the
     * collector's room): a query chunk of that many rows and the key/value chunk
     * {@link StreamingAttention#cacheKvChunk} gives it, of the forward pass or, with
     * {@code backward}, of the backward pass.
     */
    static int chunkRows(AttendCommand cmd, AttentionShape shape, int blockQ, int blockKv, int threads,
            boolean backward) {
        int unit = lcm(blockQ, StreamingAttention.kvChunkUnit(blockKv));
        if (cmd.chunk != null) {
            if (cmd.chunk < 1 || cmd.chunk % unit != 0) {
                throw CliException.usage("--chunk must be a positive multiple of " + unit + " (the blocks " + blockQ
                        + "x" + blockKv + " and " + Kernels.CHUNK + "), got " + cmd.chunk);
            }
            return cmd.chunk;
        }
        long budget = (long) (Runtime.getRuntime().maxMemory() * 0.4);
        int best = unit;
        int needed = Math.max(shape.qLen(), shape.kvLen());
        for (long c = unit; c <= Math.max(unit, MAX_AUTO_CHUNK); c += unit) {
            int kv = StreamingAttention.cacheKvChunk(shape.dim(), blockKv, (int) c);
            long bytes = backward ? StreamingAttention.backwardHeapBytes(shape, (int) c, kv, blockQ, blockKv, threads)
                    : StreamingAttention.heapBytes(shape, (int) c, kv, blockQ, blockKv, threads);
            if (bytes > budget) {
                break;
            }
            best = (int) c;
            if (c >= needed) {
                break;
            }
        }
        return best;
    }

    /** The engine of query chunks of {@code chunk} rows and the key/value chunks {@code cacheKvChunk} gives them. */
    static StreamingAttention engine(EngineOptions eo, AttentionShape shape, int threads, int chunk) {
        try {
            return new StreamingAttention(Kernels.preferred(), eo.blockQ, eo.blockKv, threads, chunk,
                    StreamingAttention.cacheKvChunk(shape.dim(), eo.blockKv, chunk));
        } catch (IllegalArgumentException e) {
            throw CliException.usage("--chunk " + chunk + ": " + e.getMessage());
        }
    }

    private static int lcm(int a, int b) {
        int x = a;
        int y = b;
        while (y != 0) {
            int t = x % y;
            x = y;
            y = t;
        }
        return Math.multiplyExact(a / x, b);
    }

    static MappedNpy map(Path file, Arena arena) throws IOException {
        try {
            return MappedNpy.openReadOnly(file, arena);
        } catch (NpyFormatException e) {
            throw e;
        } catch (IOException e) {
            throw CliException.data(file + ": cannot map: " + e.getMessage());
        }
    }

    /** Where a target's data is written until the run completes: {@code TARGET.partial} beside it. */
    static Path partial(Path target) {
        Path abs = target.toAbsolutePath();
        return abs.resolveSibling(abs.getFileName() + ".partial");
    }

    static void move(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }


    /** The test hook's hold: sleeps until the JVM exits (interrupts included). */
    private static void holdUntilExit() {
        while (true) {
            try {
                Thread.sleep(java.time.Duration.ofHours(1));
            } catch (InterruptedException e) {
                // held all the same: only the JVM's exit ends the hold
            }
        }
    }

    /** A piece of work that may fail with an I/O error. */
    @FunctionalInterface
    interface IoAction {
        void run() throws IOException;
    }

    /**
     * What SIGINT or SIGTERM does to a run, from a shutdown hook while the JVM waits to exit: sets
     * the stop flag that the engine asks between two tiles, and reports at once how many query
     * chunks the checkpoint keeps, without waiting for the computation to unwind. That is safe
     * because a chunk counts only once {@link #record} has forced it to disk and written the
     * checkpoint, under this object's lock, which the hook takes too (so the JVM never exits in
     * the middle of a checkpoint, and the report names what the checkpoint holds), and because
     * nothing under a target's name changes before the run is finishing. Once it is (renaming its
     * outputs into place, after {@link #startFinishing}), the hook waits for that instead, so the
     * targets change all together or not at all.
     */
    static final class StopSignal {

        /** How long the hook waits for a finishing run to rename its outputs: renames take milliseconds. */
        static final long FINISH_WAIT_MILLIS = 10_000;

        private final java.util.function.IntConsumer report;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final CountDownLatch finished = new CountDownLatch(1);
        private int done;
        private boolean finishing;
        private boolean reported;

        /** For a run whose checkpoint keeps {@code done} chunks; {@code report} prints the stop message for a count. */
        StopSignal(int done, java.util.function.IntConsumer report) {
            this.done = done;
            this.report = report;
        }

        /** What the engine asks between tiles. */
        boolean stopRequested() {
            return stop.get();
        }

        /**
         * Records that {@code doneNow} chunks are finished by running {@code write} (force the
         * outputs, write the checkpoint), unless a stop was requested: then the chunk is left for
         * resumption and the engine stops at its next question.
         */
        synchronized void record(int doneNow, IoAction write) {
            if (stop.get()) {
                return;
            }
            try {
                write.run();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
            done = doneNow;
        }

        /** The shutdown hook's work (see the class comment). */
        void onSignal() {
            stop.set(true);
            synchronized (this) {
                if (!finishing) {
                    reportOnce();
                    return;
                }
            }
            try {
                finished.await(FINISH_WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        /** Prints the stop message unless it was printed. */
        synchronized void reportOnce() {
            if (!reported) {
                reported = true;
                report.accept(done);
            }
        }

        /** Called when every chunk is recorded: false when a stop was reported first (then nothing is renamed). */
        synchronized boolean startFinishing() {
            if (reported) {
                return false;
            }
            finishing = true;
            return true;
        }

        /** The run is over, finished or failed: a waiting hook may let the JVM exit. */
        void finished() {
            finished.countDown();
        }
    }

    private void note(String what) {
        err.println("attend: " + what);
        err.flush();
    }
}
