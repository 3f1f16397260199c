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
    void blocksOfACacheGiveTheBitsOfOnePassOverAllKeys() {
        for (Kernels kernels : new Kernels[] {Kernels.preferred(), Kernels.scalar()}) {
            for (int d : new int[] {11, 64}) {
                for (int keys : new int[] {1, 97, 128, 129, 300, 1025}) {
                    for (int block : new int[] {128, 256}) {
                        int rows = keys % 2 == 0 ? 4 : 3;
                        Problem p = Problem.random(new AttentionShape(1, rows, 1, 1, keys, d), AttentionSpec.DEFAULT,
                                keys + d, 2);
                        float scale = (float) (1 / Math.sqrt(d));
                        int blocks = (keys + block - 1) / block;
                        float[][] kT = new float[blocks + 1][]; // a spare block, as a growing cache has
                        float[][] v = new float[blocks + 1][];
                        for (int j = 0; j < blocks; j++) {
                            int t0 = j * block;
                            kT[j] = new float[d * block];
                            v[j] = new float[block * d];
                            for (int c = 0; c < Math.min(block, keys - t0); c++) {
                                for (int x = 0; x < d; x++) {
                                    kT[j][x * block + c] = p.k()[(t0 + c) * d + x];
                                }
                            }
                            System.arraycopy(p.v(), t0 * d, v[j], 0, Math.min(block, keys - t0) * d);
                        }
                        SoftmaxPartial want = SoftmaxPartial.over(kernels, p.q(), 0, rows, p.k(), 0, p.v(), 0, keys,
                                d, scale);
                        SoftmaxPartial.Workspace work = new SoftmaxPartial.Workspace();
                        for (int again = 0; again < 2; again++) { // the workspace reused gives the same bits
                            SoftmaxPartial got = SoftmaxPartial.overBlocks(kernels, p.q(), 0, rows, kT, v, block, keys,
                                    d, scale, work);
                            String what = kernels.name() + ", d " + d + ", " + keys + " keys in blocks of " + block;
                            assertSameState(got, want, rows, d, what);
                            // a merge reads m, l and õ themselves: merged into the same third state, bits agree too
                            SoftmaxPartial x = SoftmaxPartial.over(kernels, p.q(), 0, rows, p.k(), 0, p.v(), 0,
                                    Math.min(keys, 7), d, 0.7f * scale);
                            SoftmaxPartial y = SoftmaxPartial.over(kernels, p.q(), 0, rows, p.k(), 0, p.v(), 0,
                                    Math.min(keys, 7), d, 0.7f * scale);
                            x.merge(got);
                            y.merge(want);
                            assertSameState(x, y, rows, d, what + ", merged");
                        }
                    }
                }
            }
        }
        float[][] none = new float[0][];
        assertThat(SoftmaxPartial.overBlocks(Kernels.scalar(), new float[4], 0, 1, none, none, 128, 0, 4, 1f,
                new SoftmaxPartial.Workspace()).lse(0)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThatThrownBy(() -> SoftmaxPartial.overBlocks(Kernels.scalar(), new float[4], 0, 1, none, none, 96, 0, 4,
                1f, new SoftmaxPartial.Workspace())).hasMessage("block must be a positive multiple of 128, got 96");
        assertThatThrownBy(() -> SoftmaxPartial.overBlocks(Kernels.scalar(), new float[4], 0, 1, none, none, 128, 1, 4,
                1f, new SoftmaxPartial.Workspace())).hasMessage("1 keys need 1 blocks of 128, got 0 key and 0 value"
                        + " blocks");
    }

    /** Same bits of o and LSE. */
    private static void assertSameState(SoftmaxPartial got, SoftmaxPartial want, int rows, int d, String what) {
        float[] a = new float[rows * d];
        float[] b = new float[rows * d];
        got.finish(a, 0);
        want.finish(b, 0);
        assertThat(a).as(what).containsExactly(b);
        for (int r = 0; r < rows; r++) {
            assertThat(got.lse(r)).as(what + ", row " + r).isEqualTo(want.lse(r));
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
