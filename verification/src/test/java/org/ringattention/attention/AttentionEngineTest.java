package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;
import org.ringattention.tensor.Tensor;

/** Every implementation of the seam gives, through it, what its own API gives, within the accuracy rule. */
class AttentionEngineTest {

    private static final AttentionShape SHAPE = new AttentionShape(2, 4, 2, 37, 37, 11);

    private static List<AttentionEngine> engines() {
        return List.of(new VanillaAttention(VanillaAttention.Precision.FLOAT32), VanillaAttention.oracle(),
                new BlockwiseAttention(Kernels.preferred(), 8, 5, 2),
                new RingAttention(Kernels.preferred(), 8, 5, 2, 3, Layout.ZIGZAG, LinkModel.UNTHROTTLED));
    }

    @Test
    void everyEngineIsWithinTheRuleForwardAndBackward() {
        Problem p = Problem.random(SHAPE, AttentionSpec.DEFAULT.withCausal(true), 17, 1.5);
        for (AttentionEngine e : engines()) {
            AttentionOutput fwd = e.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
            Accuracy.assertForward(p, fwd, e.describe());
            Gradients g = e.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), p.spec());
            Accuracy.assertGradients(p, g, e.describe());
        }
    }

    @Test
    void theSeamGivesTheBitsOfEachClassesOwnMethods() {
        Problem p = Problem.random(SHAPE, AttentionSpec.DEFAULT.withWindow(9), 3, 1);
        BlockwiseAttention b = new BlockwiseAttention(Kernels.preferred(), 8, 5, 2);
        assertThat(b.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).out().toArray())
                .containsExactly(b.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).out().toArray());
        RingAttention r = new RingAttention(Kernels.preferred(), 8, 5, 2, 3, null, LinkModel.UNTHROTTLED);
        AttentionOutput fwd = r.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        RingAttention.Backward own = r.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        assertThat(fwd.out().toArray()).containsExactly(own.output().out().toArray());
        assertThat(r.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), p.spec()).dq().toArray())
                .containsExactly(own.gradients().dq().toArray());
        VanillaAttention f32 = new VanillaAttention(VanillaAttention.Precision.FLOAT32);
        double[] expected = f32.forward(SHAPE, p.spec(), Problem.widen(p.q()), Problem.widen(p.k()),
                Problem.widen(p.v())).out();
        float[] got = f32.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).out().toArray();
        for (int i = 0; i < got.length; i++) {
            assertThat((double) got[i]).isEqualTo(expected[i]); // float32 results are held in doubles exactly
        }
    }

    @Test
    void vanillaRefusesNonFiniteInputsNamingThem() {
        Problem p = Problem.random(SHAPE, AttentionSpec.DEFAULT, 5, 1);
        Tensor k = p.kTensor();
        k.set(1, 0, 3, 2, Float.NaN);
        assertThatThrownBy(() -> VanillaAttention.oracle().attend(p.qTensor(), k, p.vTensor(), p.spec()))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("k contains NaN at [1, 0, 3, 2]");
    }
}
