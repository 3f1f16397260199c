package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

class DecoderTest {

    private static final int BATCH = 2;

    /** The last position's logits [B, V] of a full forward result [B, N, V]. */
    private static double[] last(double[] all, int batch, int n, int vocab) {
        double[] r = new double[batch * vocab];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(all, ((b + 1) * n - 1) * vocab, r, b * vocab, vocab);
        }
        return r;
    }

    private static float[] last(float[] all, int batch, int n, int vocab) {
        float[] r = new float[batch * vocab];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(all, ((b + 1) * n - 1) * vocab, r, b * vocab, vocab);
        }
        return r;
    }

    private static int[] append(int[] seq, int batch, int[] next) {
        int n = seq.length / batch;
        int[] r = new int[seq.length + batch];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(seq, b * n, r, b * (n + 1), n);
            r[b * (n + 1) + n] = next[b];
        }
        return r;
    }

    @Test
    void everyDecodedStepIsWithinTheRuleOfAFreshForwardPass() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 21);
        int vocab = w.config().vocabSize();
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 4, 2);
        LlamaReference ref = new LlamaReference(w);
        LlamaModel plain = LlamaModel.plain(w);
        for (int devices : new int[] {1, 3}) {
            Sharding s = new Sharding(devices, Layout.ZIGZAG);
            Decoder dec = new Decoder(model, devices == 1 ? ModelFixtures.blockwise(2)
                    : ModelFixtures.ring(devices, Layout.ZIGZAG, 2), s);
            int[] seq = ModelFixtures.tokens(BATCH * 7, vocab, 22);
            float[] logits = dec.prefill(seq, BATCH);
            for (int step = 0; step < 6; step++) {
                int n = seq.length / BATCH;
                double[] r = last(ref.forward(seq, BATCH), BATCH, n, vocab);
                float[] base = last(plain.forward(seq, BATCH, LlamaModel.plainAttention(), Sharding.SINGLE), BATCH, n,
                        vocab);
                ModelFixtures.assertWithinRule(r, logits, base, devices + " devices, step " + step);
                int[] next = ModelFixtures.tokens(BATCH, vocab, 100 + step);
                logits = dec.step(next);
                seq = append(seq, BATCH, next);
            }
            assertThat(dec.length()).isEqualTo(13);
            int[] lengths = dec.deviceLengths();
            assertThat(Arrays.stream(lengths).sum()).isEqualTo(13);
            assertThat(Arrays.stream(lengths).max().getAsInt() - Arrays.stream(lengths).min().getAsInt())
                    .as("append rule keeps shards within one token: %s", Arrays.toString(lengths)).isLessThanOrEqualTo(1);
        }
    }

    @Test
    void cacheBlocksChangeNoBitOfTheLogits() {
        // One block holding every key is the pass over a whole shard that decoding made before the cache
        // was kept in blocks (all keys packed, one score tile, one product); blocks of 128 keys, crossed
        // during the steps, must give the same bits.
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 51);
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 64, 1);
        int vocab = w.config().vocabSize();
        for (int devices : new int[] {1, 3}) {
            int n = devices == 1 ? 250 : 380; // 1 device crosses 256 keys, 3 devices cross 128 each
            Sharding s = new Sharding(devices, Layout.ZIGZAG);
            Decoder blocks = new Decoder(model, engine(devices), s, 128);
            Decoder whole = new Decoder(model, engine(devices), s, 1024);
            int[] prompt = ModelFixtures.tokens(BATCH * n, vocab, 52);
            float[] a = blocks.prefill(prompt, BATCH);
            float[] b = whole.prefill(prompt, BATCH);
            assertThat(a).containsExactly(b);
            for (int step = 0; step < 10; step++) {
                int[] next = ModelFixtures.tokens(BATCH, vocab, 200 + step);
                a = blocks.step(next);
                b = whole.step(next);
                assertThat(a).as("%d devices, step %d", devices, step).containsExactly(b);
            }
            assertThat(Arrays.stream(blocks.deviceLengths()).max().getAsInt())
                    .as("the steps crossed a block boundary").isGreaterThan(devices == 1 ? 256 : 128);
        }
        assertThatThrownBy(() -> new Decoder(model, engine(1), Sharding.SINGLE, 100))
                .hasMessage("cache blocks must be a positive multiple of 128 tokens, got 100");
    }

    @Test
    void threadsChangeNoBitOfTheLogits() {
        // widths of several panels with tails (vocab 101, intermediate 70), so that panels are shared out
        LlamaWeights w = LlamaWeights.random(LlamaConfig.parse("""
                {"hidden_size": 20, "intermediate_size": 70, "num_hidden_layers": 2, "num_attention_heads": 4,
                 "num_key_value_heads": 2, "head_dim": 6, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
                 "vocab_size": 101, "tie_word_embeddings": false}"""), 61);
        int vocab = w.config().vocabSize();
        for (int devices : new int[] {1, 3}) {
            Sharding s = new Sharding(devices, Layout.STRIPED);
            Decoder one = new Decoder(new LlamaModel(w, Kernels.preferred(), 4, 1), engine(devices), s, 128);
            Decoder three = new Decoder(new LlamaModel(w, Kernels.preferred(), 4, 3), engine(devices), s, 128);
            int[] prompt = ModelFixtures.tokens(BATCH * 140, vocab, 62);
            assertThat(three.prefill(prompt, BATCH)).containsExactly(one.prefill(prompt, BATCH));
            for (int step = 0; step < 4; step++) {
                int[] next = ModelFixtures.tokens(BATCH, vocab, 300 + step);
                assertThat(three.step(next)).as("%d devices, step %d", devices, step).containsExactly(one.step(next));
            }
        }
    }

    private static org.ringattention.attention.AttentionEngine engine(int devices) {
        return devices == 1 ? ModelFixtures.blockwise(1) : ModelFixtures.ring(devices, Layout.ZIGZAG, 1);
    }

    @Test
    void devicesGiveTheSameTokensAsOneGreedyAndSampled() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 31);
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 5, 1);
        int[] prompt = ModelFixtures.tokens(BATCH * 9, w.config().vocabSize(), 32);
        int[] greedy = Generation.generate(new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE), prompt,
                BATCH, 12, Sampler.greedy());
        int[] sampled = Generation.generate(new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE), prompt,
                BATCH, 12, Sampler.sampling(0.9, 7));
        assertThat(sampled).isNotEqualTo(greedy);
        for (Layout layout : Layout.values()) {
            Sharding s = new Sharding(3, layout);
            assertThat(Generation.generate(new Decoder(model, ModelFixtures.ring(3, layout, 2), s), prompt, BATCH, 12,
                    Sampler.greedy())).as("greedy, %s", layout).containsExactly(greedy);
            assertThat(Generation.generate(new Decoder(model, ModelFixtures.ring(3, layout, 2), s), prompt, BATCH, 12,
                    Sampler.sampling(0.9, 7))).as("sampled, %s", layout).containsExactly(sampled);
        }
    }

    @Test
    void sameSeedSameTokensAndStepNeedsPrefill() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tied(), 41);
        LlamaModel model = new LlamaModel(w, Kernels.preferred(), 3, 1);
        int[] prompt = ModelFixtures.tokens(5, w.config().vocabSize(), 42);
        int[] a = Generation.generate(new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE), prompt, 1, 8,
                Sampler.sampling(1.0, 99));
        int[] b = Generation.generate(new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE), prompt, 1, 8,
                Sampler.sampling(1.0, 99));
        assertThat(b).containsExactly(a);
        java.util.List<Integer> told = new java.util.ArrayList<>();
        int[] c = Generation.generate(new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE), prompt, 1, 8,
                Sampler.sampling(1.0, 99), told::add);
        assertThat(c).containsExactly(a);
        assertThat(told).as("progress after each token").containsExactly(1, 2, 3, 4, 5, 6, 7, 8);
        Decoder fresh = new Decoder(model, ModelFixtures.blockwise(1), Sharding.SINGLE);
        assertThatThrownBy(() -> fresh.step(new int[] {1})).isInstanceOf(IllegalStateException.class);
        fresh.prefill(prompt, 1);
        assertThatThrownBy(() -> fresh.step(new int[] {1, 2})).hasMessageContaining("need 1 tokens");
    }
}
