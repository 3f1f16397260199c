package org.ringattention.attention;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;

/** Partials over disjoint key shards, merged in order, give attention over all keys. */
class SoftmaxPartialTest {

    @Test
    void mergedShardsAreWithinTheRuleOfAttentionOverAllKeys() {
        int rows = 3; // one token's query heads sharing a key/value head
        int d = 11;
        for (int keys : new int[] {1, 7, 97, 300}) {
            AttentionShape shape = new AttentionShape(1, rows, 1, 1, keys, d);
            Problem p = Problem.random(shape, AttentionSpec.DEFAULT, keys, 2);
            float scale = (float) (1 / Math.sqrt(d));
            // q [1, rows, 1, d] is rows × d row-major, k and v [1, 1, keys, d] keys × d
            for (int shards : new int[] {1, 2, 5}) {
                if (shards > keys) {
                    continue;
                }
                SoftmaxPartial merged = SoftmaxPartial.empty(rows, d);
                for (int s = 0; s < shards; s++) {
                    int from = (int) ((long) keys * s / shards);
                    int to = (int) ((long) keys * (s + 1) / shards);
                    merged.merge(SoftmaxPartial.over(Kernels.preferred(), p.q(), 0, rows, p.k(), from * d, p.v(),
                            from * d, to - from, d, scale));
                }
                merged.merge(SoftmaxPartial.empty(rows, d)); // a device that holds nothing changes nothing
                float[] o = new float[rows * d];
                merged.finish(o, 0);
                float[] lse = new float[rows];
                for (int r = 0; r < rows; r++) {
                    lse[r] = merged.lse(r);
                }
                Accuracy.assertForward(p, new AttentionOutput(org.ringattention.tensor.Tensor.wrap(o, 1, rows, 1, d),
                        lse, 0, 0), keys + " keys in " + shards + " shards");
            }
        }
    }

    @Test
    void kernelsGiveTheSameBitsAndEmptyStatesFinishAsZero() {
        Problem p = Problem.random(new AttentionShape(1, 2, 1, 1, 40, 9), AttentionSpec.DEFAULT, 3, 1);
        float[] a = new float[18];
        float[] b = new float[18];
        SoftmaxPartial.over(Kernels.preferred(), p.q(), 0, 2, p.k(), 0, p.v(), 0, 40, 9, 0.3f).finish(a, 0);
        SoftmaxPartial.over(Kernels.scalar(), p.q(), 0, 2, p.k(), 0, p.v(), 0, 40, 9, 0.3f).finish(b, 0);
        assertThat(b).containsExactly(a);
        SoftmaxPartial none = SoftmaxPartial.empty(2, 9);
        none.merge(SoftmaxPartial.over(Kernels.preferred(), p.q(), 0, 2, p.k(), 0, p.v(), 0, 0, 9, 0.3f));
        float[] z = new float[18];
        Arrays.fill(z, 5f);
        none.finish(z, 0);
        assertThat(z).containsOnly(0f);
        assertThat(none.lse(1)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> none.merge(SoftmaxPartial.empty(3, 9))).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void anEmptySideTakesTheOtherSidesStateBitForBit() {
        // scores near −300: exp(s − 0) underflows in float32, so an empty side must start at m = −∞, not 0
        int d = 4;
        float[] q = {1, 1, 1, 1};
        float[] k = new float[3 * d];
        float[] v = new float[3 * d];
        for (int j = 0; j < 3; j++) {
            for (int x = 0; x < d; x++) {
                k[j * d + x] = -75 - j;
                v[j * d + x] = j + x;
            }
        }
        SoftmaxPartial p = SoftmaxPartial.over(Kernels.scalar(), q, 0, 1, k, 0, v, 0, 3, d, 1f);
        float[] want = new float[d];
        p.finish(want, 0);
        assertThat(p.lse(0)).isBetween(-301f, -299f);
        SoftmaxPartial e = SoftmaxPartial.empty(1, d);
        e.merge(p);
        float[] got = new float[d];
        e.finish(got, 0);
        assertThat(got).containsExactly(want);
        assertThat(e.lse(0)).isEqualTo(p.lse(0));
        assertThat(e.rows()).isEqualTo(1);
    }

    @Test
    void oneRowOfOneDimensionIsTheSmallestState() {
        assertThat(SoftmaxPartial.empty(1, 1).rows()).isEqualTo(1);
        assertThatThrownBy(() -> SoftmaxPartial.empty(0, 1)).hasMessage("need rows >= 1 and dim >= 1, got 0, 1");
        assertThatThrownBy(() -> SoftmaxPartial.empty(1, 0)).hasMessage("need rows >= 1 and dim >= 1, got 1, 0");
        assertThatThrownBy(() -> SoftmaxPartial.empty(2, 3).merge(SoftmaxPartial.empty(2, 4)))
                .hasMessage("partials of 2x3 and 2x4 rows cannot merge");
    }
}
