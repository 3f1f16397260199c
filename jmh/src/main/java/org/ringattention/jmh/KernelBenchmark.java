package org.ringattention.jmh;

import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.ringattention.kernel.Kernels;

/**
 * Each tile kernel alone, on one tile of the shape blockwise attention uses: a query block of
 * {@code block} rows against a key/value block of {@code block} rows, head dimension {@code dim}.
 * Time per call; GFLOP/s of the products = 2 · block² · dim / seconds (one fused multiply-add is
 * two operations), so the products compare directly with {@code FmaPeakBenchmark}. expShifted
 * works on block² scores ({@code block} rows of {@code block} each).
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-XX:+AlwaysPreTouch"})
public class KernelBenchmark {

    /** Rows of the query block and of the key/value block. */
    @Param({"128"})
    public int block;

    /** Head dimension d. */
    @Param({"64", "128"})
    public int dim;

    /** Tile kernels: preferred or scalar. */
    @Param({"preferred", "scalar"})
    public String kernels;

    private Kernels kernel;
    private float[] q;
    private float[] kT;
    private float[] v;
    private float[] s;
    private float[] scores;
    private float[] rowMax;
    private float[] out;

    @Setup(Level.Trial)
    public void setup() {
        kernel = Inputs.kernels(kernels);
        SplittableRandom random = new SplittableRandom(Inputs.SEED);
        q = gaussian(random, block * dim);
        float[] k = gaussian(random, block * dim);
        kT = new float[block * dim];
        kernel.packTransposed(k, 0, block, dim, kT, 0);
        v = gaussian(random, block * dim);
        s = new float[block * block];
        rowMax = new float[block];
        out = new float[block * dim];
        scores = new float[block * block];
        kernel.scoreTile(q, 0, block, kT, 0, block, dim, 0.1f, scores, null);
        for (int r = 0; r < block; r++) { // probabilities as the forward pass leaves them
            kernel.expShifted(scores, r * block, block, kernel.max(scores, r * block, block));
        }
    }

    private static float[] gaussian(SplittableRandom random, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) random.nextGaussian();
        }
        return x;
    }

    /** S = scale · Q Kᵀ with the row maxima: block × block × dim multiply-adds. */
    @Benchmark
    public float[] scoreTile() {
        kernel.scoreTile(q, 0, block, kT, 0, block, dim, 0.1f, s, rowMax);
        return s;
    }

    /** P = exp(S − m) row by row with the row sums, on a copy of the scores. */
    @Benchmark
    public float expShifted() {
        System.arraycopy(scores, 0, s, 0, s.length);
        float total = 0f;
        for (int r = 0; r < block; r++) {
            total += kernel.expShifted(s, r * block, block, 1f);
        }
        return total;
    }

    /** O += P V: block × block × dim multiply-adds. */
    @Benchmark
    public float[] accumulateProduct() {
        kernel.accumulateProduct(scores, block, block, v, 0, dim, out, 0);
        return out;
    }

    /** dV += Pᵀ dO: block × block × dim multiply-adds. */
    @Benchmark
    public float[] accumulateTransposedProduct() {
        kernel.accumulateTransposedProduct(scores, block, block, v, 0, dim, out, 0);
        return out;
    }
}
