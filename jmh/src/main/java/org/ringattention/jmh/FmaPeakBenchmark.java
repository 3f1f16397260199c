package org.ringattention.jmh;

import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.AuxCounters;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Threads;
import org.openjdk.jmh.annotations.Warmup;
import org.ringattention.bench.FmaPeak;

/**
 * The ceiling: float32 FMA throughput of {@link FmaPeak}'s loop ({@value FmaPeak#CHAINS}
 * independent chains of FMAs in registers), vector ({@code FloatVector.SPECIES_PREFERRED}) or
 * scalar ({@link Math#fma(float, float, float)}), on one thread and on all available processors
 * ({@code ...AllThreads}, JMH sums the threads).
 *
 * <p>The primary score is FMA instructions per nanosecond (all threads); the secondary result
 * {@code :flops} is floating-point operations per nanosecond, that is GFLOP/s (2 per lane per FMA):
 * the ceiling to set attention's GFLOP/s against.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-XX:+AlwaysPreTouch"})
@OperationsPerInvocation(FmaPeakBenchmark.ITERATIONS * FmaPeak.CHAINS)
public class FmaPeakBenchmark {

    /** Loop iterations of one call: {@value} × {@value FmaPeak#CHAINS} FMAs, a few microseconds. */
    static final int ITERATIONS = 1 << 12;

    /** Floating-point operations, reported per time unit: GFLOP/s with nanoseconds. */
    @State(Scope.Thread)
    @AuxCounters(AuxCounters.Type.OPERATIONS)
    public static class Flops {
        public long flops;
    }

    private float carry;
    private long vectorFlops;
    private long scalarFlops;

    @Setup(Level.Trial)
    public void setup() {
        String problem = FmaPeak.vectorProblem();
        if (problem != null) {
            throw new IllegalStateException(problem);
        }
        vectorFlops = FmaPeak.flops(FmaPeak.Kind.VECTOR, ITERATIONS);
        scalarFlops = FmaPeak.flops(FmaPeak.Kind.SCALAR, ITERATIONS);
    }

    @Benchmark
    public float vector(Flops counter) {
        return vectorCall(counter);
    }

    @Benchmark
    @Threads(Threads.MAX)
    public float vectorAllThreads(Flops counter) {
        return vectorCall(counter);
    }

    @Benchmark
    public float scalar(Flops counter) {
        return scalarCall(counter);
    }

    @Benchmark
    @Threads(Threads.MAX)
    public float scalarAllThreads(Flops counter) {
        return scalarCall(counter);
    }

    private float vectorCall(Flops counter) {
        float r = FmaPeak.vectorChunk(ITERATIONS, carry);
        carry = r - (float) Math.floor(r); // the next call depends on this one
        counter.flops += vectorFlops;
        return r;
    }

    private float scalarCall(Flops counter) {
        float r = FmaPeak.scalarChunk(ITERATIONS, carry);
        carry = r - (float) Math.floor(r);
        counter.flops += scalarFlops;
        return r;
    }
}
