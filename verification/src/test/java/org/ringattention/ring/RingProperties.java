package org.ringattention.ring;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ringattention.attention.Accuracy;
import org.ringattention.attention.AttentionOutput;
import org.ringattention.attention.BlockwiseAttention;
import org.ringattention.attention.Gradients;
import org.ringattention.attention.Mask;
import org.ringattention.attention.Problem;
import org.ringattention.attention.ProblemArbitraries;
import org.ringattention.kernel.Kernels;

/**
 * Ring attention equals the float64 oracle (and, with one device, blockwise attention bit for bit)
 * across ring sizes 1 to 8, every layout and mask, GQA, lengths not divisible by P and block sizes;
 * results do not depend on threads; no device computes a tile the mask hides.
 */
class RingProperties {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems();
    }

    @Provide
    Arbitrary<Integer> blocks() {
        return ProblemArbitraries.blockSizes();
    }

    @Provide
    Arbitrary<Integer> devices() {
        return Arbitraries.integers().between(1, 8);
    }

    @Provide
    Arbitrary<Layout> layouts() {
        return Arbitraries.of(Layout.values());
    }

    @Provide
    Arbitrary<Integer> threads() {
        return Arbitraries.integers().between(1, 3);
    }

    @Property(tries = 60)
    void ringMatchesOracle(@ForAll("problems") Problem p, @ForAll("devices") int devices,
            @ForAll("layouts") Layout layout, @ForAll("blocks") int bq, @ForAll("blocks") int bkv,
            @ForAll("threads") int threads) {
        RingAttention ring = ring(bq, bkv, threads, devices, layout);
        AttentionOutput got = ring.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).output();
        Accuracy.assertForward(p, got, context(devices, layout, bq, bkv));
    }

    @Property(tries = 40)
    void ringGradientsMatchOracle(@ForAll("problems") Problem p, @ForAll("devices") int devices,
            @ForAll("layouts") Layout layout, @ForAll("blocks") int bq, @ForAll("blocks") int bkv,
            @ForAll("threads") int threads) {
        RingAttention ring = ring(bq, bkv, threads, devices, layout);
        RingAttention.Backward got = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        Accuracy.assertForward(p, got.output(), context(devices, layout, bq, bkv));
        Accuracy.assertGradients(p, got.gradients(), context(devices, layout, bq, bkv));
    }

    /** P = 1 is not another algorithm: the same blockwise loop, bit for bit. */
    @Property(tries = 30)
    void oneDeviceIsBlockwise(@ForAll("problems") Problem p, @ForAll("layouts") Layout layout,
            @ForAll("blocks") int bq, @ForAll("blocks") int bkv) {
        BlockwiseAttention blockwise = new BlockwiseAttention(Kernels.preferred(), bq, bkv, 1);
        AttentionOutput a = blockwise.forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        Gradients ga = blockwise.backward(p.qTensor(), p.kTensor(), p.vTensor(), a, p.dOutTensor(), p.spec());
        RingAttention.Backward b = ring(bq, bkv, 2, 1, layout)
                .backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        assertThat(b.output().out().toArray()).as("O").isEqualTo(a.out().toArray());
        assertThat(b.output().lse()).as("LSE").isEqualTo(a.lse());
        assertThat(b.gradients().dq().toArray()).as("dQ").isEqualTo(ga.dq().toArray());
        assertThat(b.gradients().dk().toArray()).as("dK").isEqualTo(ga.dk().toArray());
        assertThat(b.gradients().dv().toArray()).as("dV").isEqualTo(ga.dv().toArray());
    }

    /** The backward pass from a given forward result gives the bits of the two passes run together. */
    @Property(tries = 10)
    void gradientsFromTheForwardResultAreThoseOfBackward(@ForAll("problems") Problem p,
            @ForAll("devices") int devices, @ForAll("layouts") Layout layout, @ForAll("blocks") int bq,
            @ForAll("blocks") int bkv) {
        RingAttention ring = ring(bq, bkv, 2, devices, layout);
        RingAttention.Backward both = ring.backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        AttentionOutput fwd = ring.attend(p.qTensor(), p.kTensor(), p.vTensor(), p.spec());
        Gradients g = ring.gradients(p.qTensor(), p.kTensor(), p.vTensor(), fwd, p.dOutTensor(), p.spec());
        assertThat(g.dq().toArray()).as("dQ").isEqualTo(both.gradients().dq().toArray());
        assertThat(g.dk().toArray()).as("dK").isEqualTo(both.gradients().dk().toArray());
        assertThat(g.dv().toArray()).as("dV").isEqualTo(both.gradients().dv().toArray());
    }

    /** For fixed (P, layout, blocks) the bits depend neither on the threads nor on the run. */
    @Property(tries = 30)
    void sameBitsForAnyThreads(@ForAll("problems") Problem p, @ForAll("devices") int devices,
            @ForAll("layouts") Layout layout, @ForAll("blocks") int bq, @ForAll("blocks") int bkv) {
        RingAttention.Backward a = ring(bq, bkv, 1, devices, layout)
                .backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        RingAttention.Backward b = ring(bq, bkv, 3, devices, layout)
                .backward(p.qTensor(), p.kTensor(), p.vTensor(), p.dOutTensor(), p.spec());
        assertThat(b.output().out().toArray()).as("O").isEqualTo(a.output().out().toArray());
        assertThat(b.output().lse()).as("LSE").isEqualTo(a.output().lse());
        assertThat(b.gradients().dq().toArray()).as("dQ").isEqualTo(a.gradients().dq().toArray());
        assertThat(b.gradients().dk().toArray()).as("dK").isEqualTo(a.gradients().dk().toArray());
        assertThat(b.gradients().dv().toArray()).as("dV").isEqualTo(a.gradients().dv().toArray());
    }

    /**
     * With 1×1 tiles every tile is one query-key pair, so a ring that skips every hidden tile
     * computes exactly the visible pairs, on every layout.
     */
    @Property(tries = 30)
    void devicesComputeOnlyVisiblePairs(@ForAll("small") Problem p, @ForAll("devices") int devices,
            @ForAll("layouts") Layout layout) {
        RingReport report = ring(1, 1, 2, devices, layout)
                .forward(p.qTensor(), p.kTensor(), p.vTensor(), p.spec()).report();
        Mask mask = Mask.of(p.spec(), p.shape());
        long visible = 0;
        for (int b = 0; b < p.shape().batch(); b++) {
            for (int h = 0; h < p.shape().qHeads(); h++) {
                for (int i = 0; i < p.shape().qLen(); i++) {
                    for (int j = 0; j < p.shape().kvLen(); j++) {
                        visible += mask.visible(b, h, i, j) ? 1 : 0;
                    }
                }
            }
        }
        long pairs = 0;
        for (long x : report.pairsPerDevice()) {
            pairs += x;
        }
        assertThat(pairs).as("pairs computed").isEqualTo(visible);
    }

    @Provide
    Arbitrary<Problem> semantics() {
        return ProblemArbitraries.semantics();
    }

    @Provide
    Arbitrary<Problem> smallSemantics() {
        return ProblemArbitraries.semantics().filter(p -> (long) p.shape().qLen() * p.shape().kvLen() <= 20_000);
    }

    /** Alignments, windows and the features of the kit on every layout: positions are the original ones. */
    @Property(tries = 40)
    void ringFollowsTheKitSemantics(@ForAll("semantics") Problem p, @ForAll("devices") int devices,
            @ForAll("layouts") Layout layout, @ForAll("blocks") int bq, @ForAll("blocks") int bkv,
            @ForAll("threads") int threads) {
        ringGradientsMatchOracle(p, devices, layout, bq, bkv, threads);
    }

    @Property(tries = 20)
    void devicesComputeOnlyVisiblePairsUnderTheKitSemantics(@ForAll("smallSemantics") Problem p,
            @ForAll("devices") int devices, @ForAll("layouts") Layout layout) {
        devicesComputeOnlyVisiblePairs(p, devices, layout);
    }

    @Property(tries = 15)
    void oneDeviceIsBlockwiseUnderTheKitSemantics(@ForAll("semantics") Problem p, @ForAll("layouts") Layout layout,
            @ForAll("blocks") int bq, @ForAll("blocks") int bkv) {
        oneDeviceIsBlockwise(p, layout, bq, bkv);
    }

    @Provide
    Arbitrary<Problem> small() {
        return ProblemArbitraries.problems().filter(p -> (long) p.shape().qLen() * p.shape().kvLen() <= 20_000);
    }

    /**
     * The tests' ring. Its stall timeout is 10 minutes, not the default 30 s: the stall clock runs
     * on wall time, and a shared machine that stops the JVM for longer than 30 s in the middle of
     * a run would fail it as stalled (RingRuntimeTest sets a short one where a stall is the test).
     */
    static RingAttention ring(int bq, int bkv, int threads, int devices, Layout layout) {
        return new RingAttention(Kernels.preferred(), bq, bkv, threads, devices, layout, LinkModel.UNTHROTTLED)
                .withStallTimeout(java.time.Duration.ofMinutes(10));
    }

    private static String context(int devices, Layout layout, int bq, int bkv) {
        return "P=" + devices + " " + layout + " blocks " + bq + "x" + bkv;
    }
}
