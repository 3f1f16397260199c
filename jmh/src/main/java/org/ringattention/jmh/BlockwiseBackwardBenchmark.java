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
import org.ringattention.attention.Gradients;
import org.ringattention.tensor.Tensor;

/**
 * Time of one blockwise backward pass, given the forward result (computed once in the set-up, not
 * timed: FlashAttention's convention), over standard normal float32 q, k, v, dO of shape
 * [1, heads, seq, dim]. Throughput: GFLOP/s = 2.5 · 4 · seq² · dim · heads / seconds / 1e9, half
 * of it when causal ({@link org.ringattention.bench.AttentionFlops}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-XX:+AlwaysPreTouch"})
public class BlockwiseBackwardBenchmark {

    /** Sequence length N of queries and keys/values (try up to 32768 with -p). */
    @Param({"1024"})
    public int seq;

    /** Head dimension d. */
    @Param({"64", "128"})
    public int dim;

    /** Heads (queries and keys/values). */
    @Param({"1"})
    public int heads;

    /** Query block rows B_q. */
    @Param({"128"})
    public int blockQ;

    /** Key/value block rows B_kv. */
    @Param({"128"})
    public int blockKv;

    /** Threads of the engine. */
    @Param({"1", "2"})
    public int threads;

    /** Tile kernels: preferred or scalar. */
    @Param({"preferred", "scalar"})
    public String kernels;

    /** Causal mask. */
    @Param({"false"})
    public boolean causal;

    private Tensor q;
    private Tensor k;
    private Tensor v;
    private Tensor dOut;
    private AttentionSpec spec;
    private AttentionOutput fwd;
    private BlockwiseAttention attention;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom random = new SplittableRandom(Inputs.SEED);
        q = Inputs.gaussian(random, heads, seq, dim);
        k = Inputs.gaussian(random, heads, seq, dim);
        v = Inputs.gaussian(random, heads, seq, dim);
        dOut = Inputs.gaussian(random, heads, seq, dim);
        spec = AttentionSpec.DEFAULT.withCausal(causal);
        attention = new BlockwiseAttention(Inputs.kernels(kernels), blockQ, blockKv, threads);
        fwd = attention.forward(q, k, v, spec);
    }

    @Benchmark
    public Gradients backward() {
        return attention.backward(q, k, v, fwd, dOut, spec);
    }
}
