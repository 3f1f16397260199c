package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ringattention.check.ErrorStats;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.tensor.DType;
import org.ringattention.tensor.Npy;

/**
 * The float32 model, on one device and over three in every layout, against the independent
 * float64 NumPy LlamaForCausalLM, within the accuracy rule (the baseline is the plain float32
 * twin against the same NumPy result): random weights written as a model folder, GQA and MQA,
 * several layers, odd sizes, head_dim ≠ hidden / heads, tied and untied heads, one F32 file and BF16 shards.
 */
class ModelNumpyTest {

    private static String python;

    @BeforeAll
    static void findNumpy() {
        python = NumpyReference.python();
    }

    private static void check(LlamaConfig config, long seed, int shards, DType dtype, int batch, int n, Path dir)
            throws Exception {
        assumeTrue(python != null, "no Python with NumPy: the NumPy cross-check is skipped");
        LlamaWeights written = LlamaWeights.random(config, seed);
        Path model = dir.resolve("model");
        ModelFolder.write(model, written, shards, dtype);
        LlamaWeights w = ModelFolder.load(model);
        int[] tokens = ModelFixtures.tokens(batch * n, config.vocabSize(), seed + 1);
        Path tokensFile = dir.resolve("tokens.npy");
        long[] t64 = new long[tokens.length];
        for (int i = 0; i < tokens.length; i++) {
            t64[i] = tokens[i];
        }
        Npy.writeInt64(tokensFile, new long[] {batch, n}, t64);
        double[] ref = NumpyReference.logits(python, model, tokensFile, dir);
        assertThat(ref).hasSize(batch * n * config.vocabSize());
        float[] base = LlamaModel.plain(w).forward(tokens, batch, LlamaModel.plainAttention(), Sharding.SINGLE);
        // the float64 twin agrees with NumPy to float64 rounding
        double[] twin = new LlamaReference(w).forward(tokens, batch);
        assertThat(ErrorStats.of(ref, twin).maxAbs()).isLessThan(1e-9 * (1 + ErrorStats.maxAbs(ref)));
        LlamaModel model32 = new LlamaModel(w, Kernels.preferred(), 4, 2);
        ModelFixtures.assertWithinRule(ref, model32.forward(tokens, batch, ModelFixtures.blockwise(2),
                Sharding.SINGLE), base, "one device vs NumPy");
        for (Layout layout : Layout.values()) {
            ModelFixtures.assertWithinRule(ref, model32.forward(tokens, batch, ModelFixtures.ring(3, layout, 2),
                    new Sharding(3, layout)), base, "3 devices, " + layout + " vs NumPy");
        }
    }

    @Test
    void gqaThreeLayersOddSizes(@TempDir Path dir) throws Exception {
        check(LlamaConfig.parse("""
                {"hidden_size": 36, "intermediate_size": 53, "num_hidden_layers": 3, "num_attention_heads": 6,
                 "num_key_value_heads": 2, "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "vocab_size": 41,
                 "tie_word_embeddings": false}"""), 11, 1, DType.FLOAT32, 2, 31, dir);
    }

    @Test
    void tiedMqaWithOwnHeadDimInBf16Shards(@TempDir Path dir) throws Exception {
        check(LlamaConfig.parse("""
                {"hidden_size": 20, "intermediate_size": 27, "num_hidden_layers": 2, "num_attention_heads": 3,
                 "num_key_value_heads": 1, "head_dim": 10, "rms_norm_eps": 1e-6, "rope_theta": 500000.0,
                 "vocab_size": 33, "tie_word_embeddings": true}"""), 12, 3, DType.BFLOAT16, 1, 37, dir);
    }
}
