package org.ringattention.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;
import org.ringattention.attention.VanillaAttention;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;

class LlamaModelTest {

    @Test
    void blockwiseModelIsWithinTheRuleOfTheFloat64Twin() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 1);
        int[] tokens = ModelFixtures.tokens(2 * 23, 29, 2);
        float[] got = new LlamaModel(w, Kernels.preferred(), 5, 2).forward(tokens, 2, ModelFixtures.blockwise(2),
                Sharding.SINGLE);
        ModelFixtures.assertWithinRule(w, tokens, 2, got, "blockwise, 5-row blocks");
    }

    @Test
    void tiedModelWithMqaIsWithinTheRule() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tied(), 3);
        assertThat(w.lmHead()).isSameAs(w.embed());
        int[] tokens = ModelFixtures.tokens(19, 31, 4);
        float[] got = new LlamaModel(w, Kernels.preferred(), 7, 1).forward(tokens, 1, ModelFixtures.blockwise(1),
                Sharding.SINGLE);
        ModelFixtures.assertWithinRule(w, tokens, 1, got, "tied, MQA");
    }

    @Test
    void bitsDoNotDependOnThreadsBlocksOrKernels() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 5);
        int[] tokens = ModelFixtures.tokens(2 * 17, 29, 6);
        float[] a = new LlamaModel(w, Kernels.preferred(), 5, 1).forward(tokens, 2, ModelFixtures.blockwise(1),
                Sharding.SINGLE);
        float[] b = new LlamaModel(w, Kernels.scalar(), 3, 3).forward(tokens, 2, ModelFixtures.blockwise(3),
                Sharding.SINGLE);
        float[] c = new LlamaModel(w, Kernels.preferred(), 100, 2).forward(tokens, 2, ModelFixtures.blockwise(2),
                Sharding.SINGLE);
        assertThat(b).containsExactly(a);
        assertThat(c).containsExactly(a);
    }

    @Test
    void everyRingLayoutIsWithinTheRuleAndThreadCountsGiveTheSameBits() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 7);
        int[] tokens = ModelFixtures.tokens(2 * 25, 29, 8);
        double[] ref = new LlamaReference(w).forward(tokens, 2);
        float[] base = LlamaModel.plain(w).forward(tokens, 2, LlamaModel.plainAttention(), Sharding.SINGLE);
        for (Layout layout : Layout.values()) {
            for (int devices : new int[] {2, 3}) {
                Sharding s = new Sharding(devices, layout);
                float[] one = new LlamaModel(w, Kernels.preferred(), 4, 1).forward(tokens, 2,
                        ModelFixtures.ring(devices, layout, 1), s);
                ModelFixtures.assertWithinRule(ref, one, base, devices + " devices, " + layout);
                float[] three = new LlamaModel(w, Kernels.preferred(), 3, 3).forward(tokens, 2,
                        ModelFixtures.ring(devices, layout, 3), s);
                assertThat(three).as("%s devices, %s", devices, layout).containsExactly(one);
            }
        }
    }

    @Test
    void oneTokenAndTheFloat64VanillaEngine() {
        LlamaWeights w = LlamaWeights.random(ModelFixtures.tiny(), 9);
        int[] tokens = {3};
        float[] got = new LlamaModel(w, Kernels.preferred(), 4, 1).forward(tokens, 1, VanillaAttention.oracle(),
                Sharding.SINGLE);
        ModelFixtures.assertWithinRule(w, tokens, 1, got, "one token");
    }

    @Test
    void tokensOutsideTheVocabularyAreRefused() {
        LlamaModel m = LlamaModel.plain(LlamaWeights.random(ModelFixtures.tiny(), 1));
        assertThatThrownBy(() -> m.forward(new int[] {1, 2, 29, 0}, 2, LlamaModel.plainAttention(), Sharding.SINGLE))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("token 29 at [1, 0] is outside the vocabulary [0, 29)");
    }
}
