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
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.VanillaAttention;

/**
 * Time of one forward pass of {@link VanillaAttention} with {@link VanillaAttention.Precision#FLOAT32}
 * (the accuracy rule's baseline: the N × N scores materialized, every operation rounded to
 * float32, single-threaded, values held in doubles), over standard normal inputs of shape
 * [1, heads, seq, dim]. The scores of a head take 8 · seq² bytes and the algorithm is plain loops:
 * keep seq small (≤ 4096).
 * Throughput as for {@link BlockwiseForwardBenchmark}: 4 · seq² · dim · heads / seconds, half of it
 * when causal.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1, timeUnit = TimeUnit.SECONDS)
@Measurement(iterations = 5, time = 1, timeUnit = TimeUnit.SECONDS)
@Fork(value = 3, jvmArgsAppend = {"--add-modules", "jdk.incubator.vector",
    "-Djdk.incubator.vector.VECTOR_ACCESS_OOB_CHECK=0", "-XX:+AlwaysPreTouch"})
public class VanillaFloat32Benchmark {

    /** Sequence length N of queries and keys/values. */
    @Param({"256", "1024"})
    public int seq;

    /** Head dimension d. */
    @Param({"64", "128"})
    public int dim;

    /** Heads (queries and keys/values). */
    @Param({"1"})
    public int heads;

    /** Causal mask. */
    @Param({"false"})
    public boolean causal;

    private AttentionShape shape;
    private AttentionSpec spec;
    private double[] q;
    private double[] k;
    private double[] v;
    private VanillaAttention vanilla;

    @Setup(Level.Trial)
    public void setup() {
        SplittableRandom random = new SplittableRandom(Inputs.SEED);
        shape = new AttentionShape(1, heads, heads, seq, seq, dim);
        spec = AttentionSpec.DEFAULT.withCausal(causal);
        q = Inputs.gaussianDoubles(random, Math.toIntExact(shape.qSize()));
        k = Inputs.gaussianDoubles(random, Math.toIntExact(shape.kvSize()));
        v = Inputs.gaussianDoubles(random, Math.toIntExact(shape.kvSize()));
        vanilla = new VanillaAttention(VanillaAttention.Precision.FLOAT32);
    }

    @Benchmark
    public VanillaAttention.Result forward() {
        return vanilla.forward(shape, spec, q, k, v);
    }
}
