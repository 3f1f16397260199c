package org.ringattention.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.BrokenBarrierException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.atomic.AtomicReference;

/**
 * This machine's float32 fused multiply-add throughput: the ceiling that attention's GFLOP/s are
 * measured against.
 *
 * <p><b>What it measures.</b> Each of {@code threads} platform threads runs a loop of
 * {@link #CHAINS} independent FMA chains {@code acc = acc · a + b}, every accumulator a
 * {@code FloatVector} of {@code FloatVector.SPECIES_PREFERRED} held in a local (so in a register),
 * with no loads or stores inside the loop. The threads start together (a barrier), first run the
 * loop for a warm-up period so that C2 compiles it to straight vector FMA instructions, then run
 * it for the measured duration, cut into {@value #SLICES} slices that all threads start together
 * (a barrier each). A slice's rate is the floating-point operations of all threads over the wall
 * time from the common start to the last thread's end, counting 2 operations (a multiply and an
 * add) per lane per FMA; the result is the best slice, so that a slice disturbed by other work on
 * the machine, or run before compilation finished, does not lower the ceiling.
 *
 * <p><b>Why it is the ceiling.</b> Attention's work counted as 4·N²·d (per head) is the two matrix
 * products S = QKᵀ and O = PV, each an FMA per term, the same 2 operations per FMA counted here.
 * The best any kernel can do is keep every FMA unit of every core busy with full-width vectors;
 * everything else attention does (exp, max, rescaling, loads and stores, bookkeeping) only takes
 * issue slots away from the FMAs. Sixteen independent chains are more than latency × FMA ports on
 * current x86 and ARM cores (4 cycles × 2 ports = 8), so the loop is limited by FMA throughput,
 * not by the latency of one chain. The number includes the clock the cores hold while running
 * wide vector FMAs on all the threads asked for (turbo, AVX-512 frequency levels), which is the
 * clock an attention kernel on the same threads would get too. Fraction of peak = attention
 * GFLOP/s ÷ this number, with the same thread count.
 *
 * <p>{@link Kind#SCALAR} runs the same loop on {@code float} with {@link Math#fma(float, float,
 * float)}: the ceiling for code that does not use SIMD. If the {@code jdk.incubator.vector} module
 * is not loaded (the JVM was started without {@code --add-modules jdk.incubator.vector}),
 * {@link Kind#VECTOR} reports {@code NaN} GFLOP/s and the reason.
 */
public final class FmaPeak {

    /** Independent FMA chains per loop iteration (accumulators held in registers). */
    public static final int CHAINS = 16;

    /** Loop iterations of one timed call: about 0.1 to 1 ms. */
    static final long CHUNK = 1L << 16;

    /** Loop iterations of one warm-up call: short, so that the interpreted calls do not take long. */
    static final long WARMUP_CHUNK = 1L << 10;

    /** Slices of the measured duration; the result is the best slice. */
    static final int SLICES = 5;

    /**
     * The default warm-up before measuring: long enough for C2 to compile the vector loop from
     * cold (about 0.7 s on a 2-core machine; interpreted and C1 code boxes every vector and runs
     * 20 to 1000 times slower).
     */
    public static final Duration DEFAULT_WARMUP = Duration.ofMillis(1000);

    /** Which FMA: vector lanes of the preferred species, or one float. */
    public enum Kind {
        VECTOR,
        SCALAR
    }

    /**
     * One measurement.
     *
     * @param kind    vector or scalar FMAs
     * @param threads threads that ran at once
     * @param lanes   float lanes per FMA (1 for scalar; 0 when the vector module is missing)
     * @param gflops  total over all threads in the best slice, 10⁹ floating-point operations per
     *                second; NaN if unavailable
     * @param seconds the measured wall time
     * @param note    null, or why the number is NaN
     */
    public record Result(Kind kind, int threads, int lanes, double gflops, double seconds, String note) {

        public boolean available() {
            return !Double.isNaN(gflops);
        }

        @Override
        public String toString() {
            if (!available()) {
                return kind.name().toLowerCase() + " FMA peak unavailable: " + note;
            }
            return String.format(java.util.Locale.ROOT,
                    "%s FMA peak %.1f GFLOP/s (%d thread%s, %d lane%s x %d chains, %.2f s)",
                    kind.name().toLowerCase(), gflops, threads, threads == 1 ? "" : "s", lanes, lanes == 1 ? "" : "s",
                    CHAINS, seconds);
        }
    }

    /** Keeps the results alive, so that no loop can be dropped as dead code. */
    private static volatile float sink;

    private FmaPeak() {
    }

    /** Measures {@code kind} on {@code threads} threads for {@code duration} after {@link #DEFAULT_WARMUP}. */
    public static Result measure(Kind kind, int threads, Duration duration) {
        return measure(kind, threads, DEFAULT_WARMUP, duration);
    }

    /**
     * Measures {@code kind} on {@code threads} threads: a warm-up of {@code warmup}, then
     * {@code duration} timed.
     */
    public static Result measure(Kind kind, int threads, Duration warmup, Duration duration) {
        Objects.requireNonNull(kind, "kind");
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be >= 1, got " + threads);
        }
        if (warmup.isNegative() || duration.isNegative() || duration.isZero()) {
            throw new IllegalArgumentException("warm-up must be >= 0 and duration > 0, got " + warmup + ", "
                    + duration);
        }
        if (kind == Kind.VECTOR && vectorProblem() != null) {
            return new Result(kind, threads, 0, Double.NaN, 0, vectorProblem());
        }
        long warmupNanos = warmup.toNanos();
        long sliceNanos = Math.max(1, duration.toNanos() / SLICES);
        CyclicBarrier barrier = new CyclicBarrier(threads);
        long[][] starts = new long[SLICES][threads];
        long[][] ends = new long[SLICES][threads];
        long[][] iterations = new long[SLICES][threads];
        AtomicReference<Throwable> failure = new AtomicReference<>();
        List<Thread> workers = new ArrayList<>(threads);
        for (int t = 0; t < threads; t++) {
            int id = t;
            workers.add(Thread.ofPlatform().daemon().name("fma-peak-" + t).unstarted(() -> {
                try {
                    float keep = 0;
                    barrier.await();
                    long warmEnd = System.nanoTime() + warmupNanos;
                    do {
                        keep += chunk(kind, WARMUP_CHUNK, keep);
                    } while (System.nanoTime() < warmEnd);
                    for (int slice = 0; slice < SLICES; slice++) {
                        barrier.await();
                        long start = System.nanoTime();
                        long end;
                        long n = 0;
                        do {
                            keep += chunk(kind, CHUNK, keep);
                            n += CHUNK;
                            end = System.nanoTime();
                        } while (end - start < sliceNanos);
                        starts[slice][id] = start;
                        ends[slice][id] = end;
                        iterations[slice][id] = n;
                    }
                    sink += keep;
                } catch (BrokenBarrierException e) {
                    // another worker failed; its failure is the one to report
                } catch (Throwable e) {
                    failure.compareAndSet(null, e);
                    barrier.reset();
                }
            }));
        }
        workers.forEach(Thread::start);
        for (Thread w : workers) {
            try {
                w.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                workers.forEach(Thread::interrupt);
                throw new IllegalStateException("interrupted while measuring the FMA peak", e);
            }
        }
        Throwable error = failure.get();
        if (error instanceof LinkageError) {
            return new Result(kind, threads, 0, Double.NaN, 0, "Vector API unavailable: " + error);
        }
        if (error != null) {
            throw new IllegalStateException("FMA peak measurement failed: " + error, error);
        }
        int lanes = kind == Kind.VECTOR ? VectorFmaLoop.lanes() : 1;
        double best = 0;
        double seconds = 0;
        for (int slice = 0; slice < SLICES; slice++) {
            long first = Long.MAX_VALUE;
            long last = Long.MIN_VALUE;
            long total = 0;
            for (int t = 0; t < threads; t++) {
                first = Math.min(first, starts[slice][t]);
                last = Math.max(last, ends[slice][t]);
                total += iterations[slice][t];
            }
            double s = (last - first) / 1e9;
            seconds += s;
            best = Math.max(best, (double) total * CHAINS * lanes * 2 / s / 1e9);
        }
        return new Result(kind, threads, lanes, best, seconds, null);
    }

    /**
     * Floating-point operations of one call of {@link #vectorChunk} or {@link #scalarChunk} with
     * {@code iterations}: iterations × {@link #CHAINS} × lanes × 2. 0 when the vector module is
     * missing.
     */
    public static long flops(Kind kind, long iterations) {
        return iterations * CHAINS * 2 * lanes(kind);
    }

    /** Float lanes of one FMA of {@code kind}: 1 for scalar, 0 when vector FMAs are unavailable. */
    public static int lanes(Kind kind) {
        if (kind == Kind.SCALAR) {
            return 1;
        }
        return vectorProblem() == null ? VectorFmaLoop.lanes() : 0;
    }

    /**
     * Why vector FMAs cannot be measured (module {@code jdk.incubator.vector} not loaded, or the
     * Vector API failed to link), or null when they can.
     */
    public static String vectorProblem() {
        return VectorProbe.PROBLEM;
    }

    /**
     * {@code iterations} rounds of {@link #CHAINS} vector FMAs, for benchmark harnesses that time
     * the loop themselves (JMH). Returns a value that depends on every FMA: consume it.
     *
     * @throws NoClassDefFoundError when the {@code jdk.incubator.vector} module is not loaded
     */
    public static float vectorChunk(long iterations, float start) {
        return VectorFmaLoop.run(iterations, start);
    }

    /**
     * {@code iterations} rounds of {@link #CHAINS} scalar {@link Math#fma(float, float, float)};
     * consume the result.
     */
    public static float scalarChunk(long iterations, float start) {
        float a = 1f - 0x1p-14f;
        float b = 0x1p-14f;
        float c0 = start;
        float c1 = start + 0.0625f;
        float c2 = start + 0.125f;
        float c3 = start + 0.1875f;
        float c4 = start + 0.25f;
        float c5 = start + 0.3125f;
        float c6 = start + 0.375f;
        float c7 = start + 0.4375f;
        float c8 = start + 0.5f;
        float c9 = start + 0.5625f;
        float c10 = start + 0.625f;
        float c11 = start + 0.6875f;
        float c12 = start + 0.75f;
        float c13 = start + 0.8125f;
        float c14 = start + 0.875f;
        float c15 = start + 0.9375f;
        for (long i = 0; i < iterations; i++) {
            c0 = Math.fma(c0, a, b);
            c1 = Math.fma(c1, a, b);
            c2 = Math.fma(c2, a, b);
            c3 = Math.fma(c3, a, b);
            c4 = Math.fma(c4, a, b);
            c5 = Math.fma(c5, a, b);
            c6 = Math.fma(c6, a, b);
            c7 = Math.fma(c7, a, b);
            c8 = Math.fma(c8, a, b);
            c9 = Math.fma(c9, a, b);
            c10 = Math.fma(c10, a, b);
            c11 = Math.fma(c11, a, b);
            c12 = Math.fma(c12, a, b);
            c13 = Math.fma(c13, a, b);
            c14 = Math.fma(c14, a, b);
            c15 = Math.fma(c15, a, b);
        }
        return ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11))
                + ((c12 + c13) + (c14 + c15));
    }

    private static float chunk(Kind kind, long iterations, float start) {
        // start stays in [0, 1]: the chains converge to 1 from there
        float s = start - (float) Math.floor(start);
        return kind == Kind.VECTOR ? VectorFmaLoop.run(iterations, s) : scalarChunk(iterations, s);
    }

    /** Probed once, on first use. */
    private static final class VectorProbe {
        static final String PROBLEM = probe();

        private static String probe() {
            if (ModuleLayer.boot().findModule("jdk.incubator.vector").isEmpty()) {
                return "module jdk.incubator.vector is not loaded (start java with --add-modules jdk.incubator.vector)";
            }
            try {
                sink += VectorFmaLoop.run(1, 0f);
                return null;
            } catch (LinkageError e) {
                return "Vector API unavailable: " + e;
            }
        }
    }
}
