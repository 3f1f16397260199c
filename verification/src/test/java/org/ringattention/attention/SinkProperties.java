package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import org.ringattention.kernel.Kernels;
import org.ringattention.ring.Layout;
import org.ringattention.ring.LinkModel;
import org.ringattention.ring.RingAttention;

/**
 * Attention sinks: rows that see no key give O = 0 and LSE = sink, the sink gradient of every
 * path follows the accuracy rule, and the oracle's sink gradient matches finite differences.
 */
class SinkProperties {

    @Provide
    Arbitrary<Problem> withSinks() {
        return ProblemArbitraries.semantics().filter(p -> p.spec().sinks() != null);
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Property(tries = 40)
    void sinkGradientOfBlockwiseAndRingFollowsTheRule(@ForAll("withSinks") Problem p, @ForAll("blocks") int block,
            @ForAll @IntRange(min = 1, max = 4) int devices) {
        BlockwiseAttention engine = new BlockwiseAttention(Kernels.preferred(), block, block);
        AttentionOutput fwd = engine.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        Accuracy.assertSinkGradient(p, fwd, p.spec().sinks().gradient(fwd, p.dOutTensor()), "block " + block);
        int n = Math.min(p.shape().qLen(), p.shape().kvLen());
        RingAttention ring = new RingAttention(Kernels.preferred(), block, block, 1, Math.min(devices, n),
                Layout.ZIGZAG, LinkModel.UNTHROTTLED);
        AttentionOutput r = ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).output();
        Accuracy.assertForward(p, r, "ring");
        Accuracy.assertSinkGradient(p, r, p.spec().sinks().gradient(r, p.dOutTensor()), "ring");
    }

    /** ∂L/∂sink_h against (L(σ + h) − L(σ − h)) / 2h; the tolerance as for the other gradients. */
    @Property(tries = 20)
    void oracleSinkGradientMatchesFiniteDifferences(@ForAll("withSinks") Problem p) {
        // the shape is kept small so that the oracle's passes stay fast
        AttentionShape s = p.shape();
        AttentionShape tiny = new AttentionShape(1, s.qHeads(), s.kvHeads(), Math.min(s.qLen(), 12),
                Math.min(s.kvLen(), 12), Math.min(s.dim(), 8));
        Problem small = Problem.random(tiny, p.spec().withSegments(null).withAlibi(null).withMask(null).withBias(null)
                .withVarlen(null), s.qLen() * 31L + s.dim(), 1);
        VanillaAttention oracle = VanillaAttention.oracle();
        double[] g = small.vanillaSinkGrads(VanillaAttention.Precision.FLOAT64);
        AttentionSinks sinks = small.spec().sinks();
        for (int h = 0; h < sinks.heads(); h++) {
            double step = 1e-5;
            double plus = loss(oracle, small, shifted(sinks, h, step));
            double minus = loss(oracle, small, shifted(sinks, h, -step));
            double fd = (plus - minus) / (2 * step);
            assertThat(Math.abs(fd - g[h])).as("dsink[%d] of %s: analytic %s, finite difference %s", h, small, g[h],
                    fd).isLessThanOrEqualTo(1e-6 * (1 + Math.abs(g[h]) + Math.abs(plus)));
        }
    }

    @Property(tries = 30)
    void rowsThatSeeNoKeyGiveTheSink(@ForAll @IntRange(min = 2, max = 40) int nq, @ForAll @IntRange(min = 1,
            max = 20) int nk, @ForAll("blocks") int block, @ForAll long seed) {
        AttentionShape shape = new AttentionShape(1, 2, 1, nq + nk, nk, 8);
        AttentionSinks sinks = Problem.sinks(2, seed, 0);
        Problem p = Problem.random(shape, AttentionSpec.DEFAULT.withCausal(true).withSinks(sinks), seed, 1);
        AttentionOutput out = p.blockwise(block, block);
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        int blind = nq; // rows 0 .. nq-1 sit before the first key
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < shape.qLen(); i++) {
                int row = h * shape.qLen() + i;
                if (i < blind) {
                    assertThat(out.lse(0, h, i)).as("LSE of row %d", i).isEqualTo((float) sinks.logit(h));
                    assertThat(ref.lse()[row]).isEqualTo(sinks.logit(h));
                    for (int x = 0; x < 8; x++) {
                        assertThat(out.out().get(0, h, i, x)).isEqualTo(0f);
                    }
                } else {
                    assertThat(out.lse(0, h, i)).isGreaterThanOrEqualTo((float) sinks.logit(h));
                }
            }
        }
        Accuracy.assertForward(p, out, "block " + block);
        Accuracy.assertGradients(p, p.blockwiseGrads(block, block), "block " + block);
    }

    private static AttentionSpec shifted(AttentionSinks s, int h, double step) {
        double[] x = new double[s.heads()];
        for (int i = 0; i < x.length; i++) {
            x[i] = s.logit(i) + (i == h ? step : 0);
        }
        return AttentionSpec.DEFAULT.withSinks(AttentionSinks.of(x));
    }

    private static double loss(VanillaAttention oracle, Problem p, AttentionSpec sinksOnly) {
        AttentionSpec spec = p.spec().withSinks(sinksOnly.sinks());
        double[] o = oracle.forward(p.shape(), spec, Problem.widen(p.q()), Problem.widen(p.k()),
                Problem.widen(p.v())).out();
        double[] dOut = Problem.widen(p.dOut());
        double l = 0;
        for (int i = 0; i < o.length; i++) {
            l += o[i] * dOut[i];
        }
        return l;
    }
}
