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
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.tensor.Tensor;

/**
 * Time of one blockwise forward pass over float32 q, k, v of shape [1, heads, seq, dim] (full
 * attention unless {@code causal}). Throughput: GFLOP/s = 4 · seq² · dim · heads / seconds / 1e9,
 * half of it when causal ({@link org.ringattention.bench.AttentionFlops}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-XX:+AlwaysPreTouch"})
public class BlockwiseForwardBenchmark {

    /** Sequence length N of queries and keys/values. */
    @Param({"256", "1024"})
    public int seq;

    /** Head dimension d. */
    @Param({"64", "128"})
    public int dim;

    /** Query block rows B_q. */
    @Param({"64"})
    public int blockQ;

    /** Key/value block rows B_kv. */
    @Param({"64"})
    public int blockKv;

    /** Heads (queries and keys/values). */
    @Param({"1"})
    public int heads;

    /** Threads of the engine. */
    @Param({"1", "2"})
    public int threads;

    /** Tile kernels: preferred or scalar. */
    @Param({"preferred", "scalar"})
    public String kernels;

    /** Causal mask. */
    @Param({"false"})
    public boolean causal;

    private AttentionSpec spec;

    private Tensor q;
    private Tensor k;
    private Tensor v;
    private BlockwiseAttention attention;

    @Setup(Level.Trial)
    public void setup() {
        // Fixed seed: every fork and every run measures the same inputs.
        SplittableRandom random = new SplittableRandom(0x5EED_2025L);
        q = randomTensor(random);
        k = randomTensor(random);
        v = randomTensor(random);
        attention = new BlockwiseAttention(Inputs.kernels(kernels), blockQ, blockKv, threads);
        spec = AttentionSpec.DEFAULT.withCausal(causal);
    }

    private Tensor randomTensor(SplittableRandom random) {
        float[] data = new float[heads * seq * dim];
        for (int i = 0; i < data.length; i++) {
            data[i] = (float) (random.nextDouble() * 2.0 - 1.0);
        }
        return Tensor.wrap(data, 1, heads, seq, dim);
    }

    @Benchmark
    public AttentionOutput forward() {
        return attention.forward(q, k, v, spec);
    }
}
