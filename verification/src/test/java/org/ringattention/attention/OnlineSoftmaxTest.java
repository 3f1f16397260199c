package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.ringattention.check.AccuracyRule;
import org.ringattention.check.ErrorStats;

/**
 * Merging partial results (the rule ring steps use): attention over keys [0, s) merged with
 * attention over keys [s, N) equals attention over all keys.
 */
class OnlineSoftmaxTest {

    @Provide
    Arbitrary<Problem> problems() {
        return ProblemArbitraries.problems(Arbitraries.just(Problem.MaskKind.NONE));
    }

    @Property
    void mergingTwoKeyRangesEqualsTheWhole(@ForAll("problems") Problem p, @ForAll long seed) {
        AttentionShape s = p.shape();
        if (s.kvLen() < 2) {
            return; // needs two non-empty key ranges
        }
        int split = 1 + (int) Math.floorMod(seed, (long) s.kvLen() - 1);
        Problem left = part(p, 0, split);
        Problem right = part(p, split, s.kvLen());
        AttentionOutput a = left.blockwise(16, 16);
        AttentionOutput b = right.blockwise(16, 16);
        float[] o = a.out().toArray();
        float[] lse = a.lse().clone();
        float[] o2 = b.out().toArray();
        int d = s.dim();
        int rows = s.batch() * s.qHeads() * s.qLen();
        OnlineSoftmax.merge(o, lse, 0, o2, b.lse(), 0, rows, d);
        VanillaAttention.Result ref = p.vanilla(VanillaAttention.Precision.FLOAT64);
        VanillaAttention.Result base = p.vanilla(VanillaAttention.Precision.FLOAT32);
        AccuracyRule.Verdict vo = AccuracyRule.FORWARD.judge(ref.out(), Problem.widen(o), base.out(),
                ErrorStats.maxAbs(Problem.widen(p.v())));
        assertThat(vo.pass()).as("merged O of %s split at %d: %s", p, split, vo).isTrue();
        AccuracyRule.Verdict vl = AccuracyRule.FORWARD.judge(ref.lse(), Problem.widen(lse), base.lse(),
                ErrorStats.maxAbs(ref.lse()) + 1);
        assertThat(vl.pass()).as("merged LSE of %s split at %d: %s", p, split, vl).isTrue();
    }

    /** The same queries against keys and values [from, to) of p (unmasked), at p's scale. */
    private static Problem part(Problem p, int from, int to) {
        AttentionShape s = p.shape();
        int d = s.dim();
        int n = to - from;
        float[] k = new float[s.batch() * s.kvHeads() * n * d];
        float[] v = new float[k.length];
        for (int head = 0; head < s.batch() * s.kvHeads(); head++) {
            System.arraycopy(p.k(), (head * s.kvLen() + from) * d, k, head * n * d, n * d);
            System.arraycopy(p.v(), (head * s.kvLen() + from) * d, v, head * n * d, n * d);
        }
        AttentionShape ps = new AttentionShape(s.batch(), s.qHeads(), s.kvHeads(), s.qLen(), n, d);
        return new Problem(ps, AttentionSpec.DEFAULT.withScale(p.spec().scaleFor(d)), p.q(), k, v, p.dOut());
    }
}
