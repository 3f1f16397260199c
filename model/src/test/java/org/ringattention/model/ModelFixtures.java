package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.SplittableRandom;
import org.ringattention.attention.AttentionEngine;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;

/** Small models, tokens and the accuracy assertion the model tests share. */
final class ModelFixtures {

    private ModelFixtures() {
    }

    /** Adds the raw bits of {@code x} to a digest, for tests that pin results by their hash. */
    static void digest(MessageDigest md, float[] x) {
        ByteBuffer b = ByteBuffer.allocate(4 * x.length);
        for (float f : x) {
            b.putInt(Float.floatToRawIntBits(f));
        }
        md.update(b.array());
    }

    /** GQA (4 query heads over 2), head_dim 6 with hidden 20 (Hq·d ≠ h), two layers, odd sizes. */
    static LlamaConfig tiny() {
        return LlamaConfig.parse("""
                {"hidden_size": 20, "intermediate_size": 37, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "head_dim": 6, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "vocab_size": 29, "tie_word_embeddings": false}""");
    }

    static LlamaConfig tied() {
        return LlamaConfig.parse("""
                {"hidden_size": 16, "intermediate_size": 24, "num_hidden_layers": 3, "num_attention_heads": 4,
                 "num_key_value_heads": 1, "rms_norm_eps": 1e-6, "rope_theta": 500.0,
                 "vocab_size": 31, "tie_word_embeddings": true}""");
    }

    static int[] tokens(int count, int vocab, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] t = new int[count];
        for (int i = 0; i < count; i++) {
            t[i] = rnd.nextInt(vocab);
        }
        return t;
    }

    static AttentionEngine blockwise(int threads) {
        return new BlockwiseAttention(Kernels.preferred(), 4, 3, threads);
    }

    static RingAttention ring(int devices, Layout layout, int threads) {
        return new RingAttention(Kernels.preferred(), 4, 3, threads, devices, layout, LinkModel.UNTHROTTLED);
    }

    static double[] widen(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            d[i] = x[i];
        }
        return d;
    }

    /** The float32 logits against the float64 twin, within 2x the plain float32 twin's error (+ eps). */
    static void assertWithinRule(LlamaWeights w, int[] tokens, int batch, float[] got, String context) {
        double[] ref = new LlamaReference(w).forward(tokens, batch);
        float[] base = LlamaModel.plain(w).forward(tokens, batch, LlamaModel.plainAttention(), Sharding.SINGLE);
        assertWithinRule(ref, got, base, context);
    }

    static void assertWithinRule(double[] ref, float[] got, float[] base, String context) {
        AccuracyRule.Verdict v = AccuracyRule.FORWARD.judge(ref, widen(got), widen(base), ErrorStats.maxAbs(ref));
        assertThat(v.pass()).as("logits of %s: %s", context, v).isTrue();
        assertThat(v.baseline().maxAbs()).as("the baseline differs from the float64 twin").isPositive();
    }

    /** Small integers as floats centered on 0: {@code x - center}. */
    static float[] widenToFloats(int[] x, int center) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            f[i] = x[i] - center;
        }
        return f;
    }
}
