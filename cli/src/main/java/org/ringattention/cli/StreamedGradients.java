package org.ringattention.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.foreign.Arena;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.StreamingAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.MappedNpy;
import org.ringattention.tensor.Tensor;

/**
 * The streaming path of {@code attend --do}: the forward pass ({@link StreamingAttention#forward})
 * writes O and LSE, then the backward pass ({@link StreamingAttention#backward}) reads them with
 * dO and writes dQ, dK and dV, every tensor a mapping of a file, so the heap holds one query chunk,
 * one key/value chunk and the workers' buffers whatever N is. Outputs are created at their final
 * size as {@code TARGET.partial} beside their targets; LSE, which the backward pass needs, goes to
 * {@code O.npy.lse.partial} when {@code --lse} is not given, and is deleted at the end. When both
 * passes are done every output is forced to disk and renamed over its target.
 *
 * <p>A run with gradients keeps no checkpoint: dK and dV are complete only after the last query
 * chunk, so there is nothing finished to keep part-way. A failed or stopped run (SIGINT, SIGTERM:
 * {@link StreamedAttend.StopSignal}) deletes its partial files and leaves every target as it was.
 */
final class StreamedGradients {

    /** Flops per query-key pair and head dimension: 2 tile products forward, 5 backward, 2 each. */
    private static final int FORWARD_FLOPS = 4;
    private static final int BACKWARD_FLOPS = 10;

    private final AttendCommand cmd;
    private final PrintWriter err;

    StreamedGradients(AttendCommand cmd, PrintWriter err) {
        this.cmd = cmd;
        this.err = err;
    }

    Integer run(Arena arena, long start, MappedNpy qm, MappedNpy km, MappedNpy vm, AttentionShape shape,
            AttentionSpec attention) throws IOException {
        MappedNpy dm = StreamedAttend.map(cmd.dOut, arena);
        if (!Arrays.equals(dm.shape(), qm.shape())) {
            throw CliException.data(cmd.dOut + ": shape " + Arrays.toString(dm.shape()) + " differs from " + cmd.q
                    + " shape " + Arrays.toString(qm.shape()));
        }
        // checked before the forward pass, as the heap path does, not after it (one read of dO)
        Tensor dOut = dm.tensor();
        long bad = dOut.firstNonFinite(0, dOut.size());
        if (bad >= 0) {
            throw CliException.data(cmd.dOut + ": dO contains a non-finite value at " + dOut.indexString(bad)
                    + " (inputs must be finite)");
        }
        EngineOptions eo = cmd.engineOptions;
        eo.useTuned(shape.dim(), attention.causal(), true, err); // the heap path's blocks for gradients
        int threads = eo.threads();
        int chunk = StreamedAttend.chunkRows(cmd, shape, eo.blockQ, eo.blockKv, threads, true);
        StreamingAttention engine = StreamedAttend.engine(eo, shape, threads, chunk);
        Path cpFile = Checkpoint.pathFor(cmd.out);
        if (Files.exists(cpFile)) {
            note("discarding the checkpoint " + cpFile + " of an earlier run (a run with gradients keeps none)");
            Files.delete(cpFile);
        }
        long[] qShape = qm.shape();
        long[] lseShape = Arrays.copyOf(qShape, qShape.length - 1);
        Path lseTarget = cmd.lse; // null: LSE only for the backward pass, deleted at the end
        Path lsePart = lseTarget != null ? StreamedAttend.partial(lseTarget)
                : StreamedAttend.partial(cmd.out).resolveSibling(cmd.out.getFileName() + ".lse.partial");
        List<Path> targets = Arrays.asList(cmd.out, lseTarget, cmd.dq, cmd.dk, cmd.dv);
        List<Path> partials = List.of(StreamedAttend.partial(cmd.out), lsePart, StreamedAttend.partial(cmd.dq),
                StreamedAttend.partial(cmd.dk), StreamedAttend.partial(cmd.dv));
        long[][] shapes = {qShape, lseShape, qShape, km.shape(), vm.shape()};
        List<MappedNpy> maps = new ArrayList<>();
        try {
            for (int i = 0; i < partials.size(); i++) {
                Files.deleteIfExists(partials.get(i));
                maps.add(MappedNpy.create(partials.get(i), shapes[i], arena));
            }
        } catch (IOException | RuntimeException e) {
            deleteAll(partials);
            throw e;
        }
        Tensor out = maps.get(0).tensor();
        Tensor lse = maps.get(1).view(shape.batch(), shape.qHeads(), shape.qLen(), 1);

        long pairs = engine.plannedPairs(shape, attention, 0);
        // progress counts MFLOP, as the forward's
        long work = pairs * (FORWARD_FLOPS + BACKWARD_FLOPS) * shape.dim() / 1_000_000;
        long heap = Math.max(StreamingAttention.heapBytes(shape, chunk, engine.chunkKv(), eo.blockQ, eo.blockKv,
                threads), StreamingAttention.backwardHeapBytes(shape, chunk, engine.chunkKv(), eo.blockQ, eo.blockKv,
                threads));
        int chunks = engine.queryChunks(shape.qLen());
        String path = String.format("streaming path with gradients (mapped inputs, query chunks of %d rows x key/value"
                + " chunks of %d, about %d MiB of heap of %d MiB)", chunk, engine.chunkKv(), heap >> 20,
                Runtime.getRuntime().maxMemory() >> 20);
        if (!cmd.quiet) {
            note(path + ", " + chunks + " query chunks forward, " + chunks * shape.group() + " backward");
        }
        AtomicReference<Progress> bar = new AtomicReference<>();
        StreamedAttend.StopSignal signal = new StreamedAttend.StopSignal(0, done -> {
            Progress p = bar.get();
            if (p != null) {
                p.close();
            }
            deleteAll(partials);
            err.println("ring-attention: attend: stopped; a run with gradients keeps no checkpoint, so its partial"
                    + " files are deleted and no target was changed");
            err.flush();
        });
        Thread hook = new Thread(signal::onSignal, "attend-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        StreamingAttention.Result fwd;
        StreamingAttention.Result bwd;
        boolean done = false;
        try (Progress progress = Progress.start(err, "attend", work, cmd.quiet, " GFLOP", 1000)) {
            bar.set(progress);
            fwd = engine.forward(qm.tensor(), km.tensor(), vm.tensor(), attention, out, lse, 0,
                    listener(progress, "forward", chunks, FORWARD_FLOPS * shape.dim()), signal::stopRequested);
            bwd = engine.backward(qm.tensor(), km.tensor(), vm.tensor(), attention, out, lse, dOut,
                    maps.get(2).tensor(), maps.get(3).tensor(), maps.get(4).tensor(),
                    listener(progress, "backward", chunks * shape.group(), BACKWARD_FLOPS * shape.dim()),
                    signal::stopRequested);
            done = true;
        } catch (StreamingAttention.Stopped e) {
            signal.reportOnce();
            return StreamedAttend.STOPPED;
        } catch (IllegalArgumentException e) {
            throw CliException.data(e.getMessage());
        } finally {
            if (!done) {
                deleteAll(partials);
                signal.finished();
                removeHook(hook);
            }
        }
        if (!signal.startFinishing()) {
            return StreamedAttend.STOPPED; // stopped after the last chunk: the JVM is exiting, the targets stay
        }
        try {
            for (MappedNpy m : maps) {
                m.force();
            }
            for (int i = 0; i < partials.size(); i++) {
                if (targets.get(i) != null) {
                    StreamedAttend.move(partials.get(i), targets.get(i));
                }
            }
            Files.deleteIfExists(lsePart); // LSE not asked for: it served the backward pass
        } finally {
            signal.finished();
            removeHook(hook);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        if (!cmd.quiet) {
            double flops = (double) (FORWARD_FLOPS * fwd.pairs() + BACKWARD_FLOPS * bwd.pairs()) * shape.dim();
            err.printf("attend: %s, %s, %s, blocks %dx%d%s, %s kernels, %d threads, %d query chunks, with gradients"
                    + " in %.3f s (%.1f GFLOP/s, 4 + 10 flops per pair and d) -> %s%n", shape, attention, path,
                    eo.blockQ, eo.blockKv, eo.blockSource.equals("given") || eo.blockSource.equals("default") ? ""
                            : " (" + eo.blockSource.replaceFirst(" \\(.*", "") + ")", Kernels.preferred().name(),
                    threads, fwd.chunksRun(), seconds, flops / Math.max(seconds, 1e-9) / 1e9, cmd.out);
            err.flush();
        }
        return 0;
    }

    /** Progress of one pass: its flops per pair, its chunk in the bar's message. */
    private static StreamingAttention.Listener listener(Progress progress, String pass, int chunks, long flopsPerPair) {
        AtomicLong flops = new AtomicLong();
        return new StreamingAttention.Listener() {
            @Override
            public void chunkDone(int chunk, int n, long pairs) {
                progress.message(" " + pass + " " + (chunk + 1) + "/" + chunks);
            }

            @Override
            public void pairsDone(long pairs) {
                long before = flops.getAndAdd(pairs * flopsPerPair);
                progress.stepBy((before + pairs * flopsPerPair) / 1_000_000 - before / 1_000_000);
            }
        };
    }

    private static void deleteAll(List<Path> files) {
        for (Path f : files) {
            try {
                Files.deleteIfExists(f);
            } catch (IOException e) {
                // the next run deletes it before creating it
            }
        }
    }

    private static void removeHook(Thread hook) {
        try {
            Runtime.getRuntime().removeShutdownHook(hook);
        } catch (IllegalStateException e) {
            // shutting down already: the hook has been told the run is over
        }
    }

    private void note(String what) {
        err.println("attend: " + what);
        err.flush();
    }
}
