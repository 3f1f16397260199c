package org.ringattention.readme;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.AttentionShape;
import org.ringattention.attention.AttentionSpec;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/**
 * The Java example of README.md compiles and does what the README says: the lines between the
 * markers below are the README's example, word for word (the second test checks that), and the
 * results pass the accuracy rule against the float64 oracle.
 */
class ReadmeExampleTest {

    @Test
    void theExampleRunsAndPassesTheAccuracyRule() {
        // README example begins
        SplittableRandom rnd = new SplittableRandom(1);
        float[] q = new float[4 * 256 * 64], k = new float[2 * 256 * 64], v = new float[2 * 256 * 64];
        for (float[] x : List.of(q, k, v)) for (int i = 0; i < x.length; i++) x[i] = (float) rnd.nextGaussian();
        Tensor tq = Tensor.wrap(q, 1, 4, 256, 64), tk = Tensor.wrap(k, 1, 2, 256, 64), tv = Tensor.wrap(v, 1, 2, 256, 64);
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);            // 4 query heads share 2 key/value heads
        BlockwiseAttention engine = new BlockwiseAttention(Kernels.preferred(), 64, 64, 2);   // 64 x 64 blocks, 2 threads
        AttentionOutput fwd = engine.forward(tq, tk, tv, causal);                 // O [1, 4, 256, 64] and LSE
        Gradients grads = engine.backward(tq, tk, tv, fwd, tq, causal);           // dQ, dK, dV for dO = q (any dO)
        RingAttention ring = new RingAttention(Kernels.preferred(), 64, 64, 2, 4, Layout.ZIGZAG, LinkModel.UNTHROTTLED);
        AttentionOutput onRing = ring.forward(tq, tk, tv, causal).output();       // the same on 4 simulated devices
        // README example ends

        assertThat(grads.dq().toArray()).hasSize(q.length);
        assertThat(grads.dk().toArray()).hasSize(k.length);
        AttentionShape shape = new AttentionShape(1, 4, 2, 256, 256, 64);
        VanillaAttention.Result oracle = VanillaAttention.oracle().forward(shape, causal, widen(q), widen(k), widen(v));
        VanillaAttention.Result baseline = new VanillaAttention(VanillaAttention.Precision.FLOAT32)
                .forward(shape, causal, widen(q), widen(k), widen(v));
        double magnitude = ErrorStats.maxAbs(widen(v));
        for (AttentionOutput got : List.of(fwd, onRing)) {
            AccuracyRule.Verdict verdict = AccuracyRule.FORWARD.judge(oracle.out(), widen(got.out().toArray()),
                    baseline.out(), magnitude);
            assertThat(verdict.pass()).as(verdict.toString()).isTrue();
        }
    }

    @Test
    void theReadmeShowsThisExample() throws IOException {
        Path root = Path.of("").toAbsolutePath();
        while (!Files.isRegularFile(root.resolve("README.md")) || !Files.isDirectory(root.resolve("verification"))) {
            root = root.getParent();
            assertThat(root).as("no README.md above the working directory").isNotNull();
        }
        String readme = Files.readString(root.resolve("README.md"), StandardCharsets.UTF_8);
        String source = Files.readString(root.resolve(
                "verification/src/test/java/org/ringattention/readme/ReadmeExampleTest.java"), StandardCharsets.UTF_8);
        List<String> example = source.lines().dropWhile(l -> !l.contains("README example begins")).skip(1)
                .takeWhile(l -> !l.contains("README example ends")).map(String::strip).toList();
        assertThat(example).hasSizeGreaterThanOrEqualTo(8);
        int start = readme.indexOf("```java");
        assertThat(start).as("README.md has a ```java block").isNotNegative();
        List<String> block = readme.substring(start).lines().skip(1).takeWhile(l -> !l.startsWith("```"))
                .map(String::strip).filter(l -> !l.isEmpty() && !l.startsWith("import ")).toList();
        assertThat(block).containsExactlyElementsOf(example);
    }

    private static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }
}
