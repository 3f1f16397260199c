package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

/**
 * The model's gradients against float64 finite differences of the float64 twin (central
 * differences at h and h/2 combined by Richardson extrapolation, error O(h⁴); the perturbed float32
 * weights are exact), within the gradient rule with the plain float32 twin's backward pass as the
 * baseline; and the baseline itself accurate to float32 level.
 */
class ModelBackwardTest {

    private static final double H = 1.0 / 64;

    private static LlamaConfig tiny(boolean tied) {
        return LlamaConfig.parse("""
                {"hidden_size": 8, "intermediate_size": 12, "num_hidden_layers": 2, "num_attention_heads": 2,
                 "num_key_value_heads": 1, "head_dim": 6, "rms_norm_eps": 1e-5, "rope_theta": 100.0,
                 "vocab_size": 11, "tie_word_embeddings": %s}""".formatted(tied));
    }

    /** L = Σ dLogits ∘ logits of the float64 twin. */
    private static double loss(LlamaReference ref, int[] tokens, int batch, float[] dLogits) {
        double[] logits = ref.forward(tokens, batch);
        double s = 0;
        for (int i = 0; i < logits.length; i++) {
            s += dLogits[i] * logits[i];
        }
        return s;
    }

    private static double difference(LlamaReference ref, float[] x, int i, double h, int[] tokens, int batch,
            float[] dl) {
        float keep = x[i];
        x[i] = (float) (keep + h);
        double up = loss(ref, tokens, batch, dl);
        x[i] = (float) (keep - h);
        double down = loss(ref, tokens, batch, dl);
        x[i] = keep;
        return (up - down) / (2 * h);
    }

    private static void check(boolean tied, long seed) {
        LlamaWeights w = LlamaWeights.random(tiny(tied), seed);
        int batch = 2;
        int n = 5;
        int[] tokens = ModelFixtures.tokens(batch * n, 11, seed + 1);
        float[] dLogits = org.ringattention.model.ModelFixtures.widenToFloats(ModelFixtures.tokens(batch * n * 11, 7,
                seed + 2), 3);
        LlamaReference ref = new LlamaReference(w);
        ModelBackward.Result base = ModelBackward.backward(LlamaModel.plain(w), tokens, batch, dLogits,
                LlamaModel.plainAttention(), Sharding.SINGLE);
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 3, 1);
        ModelBackward.Result one = ModelBackward.backward(model, tokens, batch, dLogits, ModelFixtures.blockwise(1),
                Sharding.SINGLE);
        ModelBackward.Result ring = ModelBackward.backward(model, tokens, batch, dLogits,
                ModelFixtures.ring(3, Layout.ZIGZAG, 2), new Sharding(3, Layout.ZIGZAG));
        ModelBackward.Result ring3 = ModelBackward.backward(model, tokens, batch, dLogits,
                ModelFixtures.ring(3, Layout.ZIGZAG, 3), new Sharding(3, Layout.ZIGZAG));
        Map<String, InMemoryWeights.Entry> params = w.tensors().entries();
        for (var e : params.entrySet()) {
            String name = e.getKey();
            float[] x = e.getValue().data();
            double[] fd = new double[x.length];
            for (int i = 0; i < x.length; i++) {
                double d1 = difference(ref, x, i, H, tokens, batch, dLogits);
                double d2 = difference(ref, x, i, H / 2, tokens, batch, dLogits);
                fd[i] = (4 * d2 - d1) / 3;
            }
            double m = ErrorStats.maxAbs(fd);
            double[] b = ModelFixtures.widen(base.weights().floats(name));
            assertThat(ErrorStats.of(fd, b).maxAbs()).as("plain float32 gradient of %s", name)
                    .isLessThanOrEqualTo(1e-4 * m);
            for (var r : Map.of("one device", one, "3 devices", ring).entrySet()) {
                AccuracyRule.Verdict v = AccuracyRule.GRADIENT.judge(fd, ModelFixtures.widen(r.getValue().weights()
                        .floats(name)), b, m);
                assertThat(v.pass()).as("%s of %s: %s", name, r.getKey(), v).isTrue();
            }
            assertThat(ring3.weights().floats(name)).as("threads, %s", name)
                    .containsExactly(ring.weights().floats(name));
        }
        assertThat(ring3.inputGradient()).containsExactly(ring.inputGradient());
    }

    @Test
    void gradientsOfEveryWeightMatchFiniteDifferences() {
        check(false, 3);
    }

    @Test
    void tiedEmbeddingsCollectTheHeadAndTheInputGradient() {
        check(true, 4);
    }
}
