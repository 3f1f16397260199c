package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ringattention.kernel.Kernels;

/**
 * Results are bit-identical whatever the number of threads and whichever kernels run: each output
 * row has one owner that computes it in a fixed order, and every kernel implementation computes
 * the same operations in the same order.
 */
class DeterminismProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Provide
    Arbitrary<Integer> threads() {
        return Arbitraries.integers().between(2, 5);
    }

    @Property(tries = 40)
    void sameBitsForAnyThreadsAndKernels(@ForAll("problems") Problem p, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv, @ForAll("threads") int threads) {
        BlockwiseAttention reference = new BlockwiseAttention(Kernels.scalar(), bq, bkv, 1);
        BlockwiseAttention other = new BlockwiseAttention(Kernels.vector(), bq, bkv, threads);
        AttentionOutput a = reference.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        AttentionOutput b = other.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        assertThat(b.out().toArray()).as("O of %s", p).isEqualTo(a.out().toArray());
        assertThat(b.lse()).as("LSE of %s", p).isEqualTo(a.lse());
        Gradients ga = reference.backward(p.qTensor(), p.kTensor(), p.vTensor(), a, p.dOutTensor(), p.spec());
        Gradients gb = other.backward(p.qTensor(), p.kTensor(), p.vTensor(), b, p.dOutTensor(), p.spec());
        assertThat(gb.dq().toArray()).as("dQ of %s", p).isEqualTo(ga.dq().toArray());
        assertThat(gb.dk().toArray()).as("dK of %s", p).isEqualTo(ga.dk().toArray());
        assertThat(gb.dv().toArray()).as("dV of %s", p).isEqualTo(ga.dv().toArray());
    }
}
