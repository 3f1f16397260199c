package org.ringattention.ring;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.ringattention.attention.Positions;
import org.ringattention.tensor.Tensor;

/**
 * What a host does before and after a ring run: the rows of a shard's positions cut out of the
 * whole sequence for every batch and head, and written back; the same for per-row values (LSE).
 * Positions with gaps (zigzag and striped shards have them), B and H above 1.
 */
class ShardsTest {

    private static final int B = 2;
    private static final int H = 3;
    private static final int N = 9;
    private static final int D = 2;

    @Test
    void gatherTakesTheRowsAtThePositionsAndScatterPutsThemBack() {
        Tensor x = Tensor.zeros(B, H, N, D);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < N; i++) {
                    for (int k = 0; k < D; k++) {
                        x.set(b, h, i, k, 1000 * b + 100 * h + 10 * i + k);
                    }
                }
            }
        }
        Positions p = Positions.of(new int[] {0, 3, 4, 8});
        Tensor shard = Shards.gather(x, p);
        assertEquals(B, shard.batch());
        assertEquals(H, shard.heads());
        assertEquals(4, shard.rows());
        assertEquals(D, shard.dim());
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int r = 0; r < 4; r++) {
                    for (int k = 0; k < D; k++) {
                        assertEquals(x.get(b, h, p.at(r), k), shard.get(b, h, r, k), b + " " + h + " " + r);
                    }
                }
            }
        }
        Tensor back = Tensor.zeros(B, H, N, D);
        Shards.scatter(shard, p, back);
        for (int b = 0; b < B; b++) {
            for (int h = 0; h < H; h++) {
                for (int i = 0; i < N; i++) {
                    boolean there = i == 0 || i == 3 || i == 4 || i == 8;
                    for (int k = 0; k < D; k++) {
                        assertEquals(there ? x.get(b, h, i, k) : 0f, back.get(b, h, i, k), b + " " + h + " " + i);
                    }
                }
            }
        }
    }

    @Test
    void perRowValuesMoveTheSameWay() {
        float[] lse = new float[B * H * N];
        for (int i = 0; i < lse.length; i++) {
            lse[i] = i;
        }
        Positions p = Positions.of(new int[] {1, 2, 7});
        float[] shard = Shards.gatherRows(lse, p, N);
        float[] want = new float[B * H * 3];
        for (int bh = 0; bh < B * H; bh++) {
            for (int r = 0; r < 3; r++) {
                want[bh * 3 + r] = bh * N + p.at(r);
            }
        }
        assertArrayEquals(want, shard);
        float[] back = new float[B * H * N];
        Shards.scatterRows(shard, p, back, N);
        for (int bh = 0; bh < B * H; bh++) {
            for (int i = 0; i < N; i++) {
                boolean there = i == 1 || i == 2 || i == 7;
                assertEquals(there ? bh * N + i : 0f, back[bh * N + i], "head " + bh + " row " + i);
            }
        }
        float[] untouched = {5, 6};
        Shards.scatterRows(new float[0], Positions.range(0, 0), untouched, 1);
        assertArrayEquals(new float[] {5, 6}, untouched, "an empty shard writes nothing");
        assertEquals(0, Shards.gatherRows(lse, Positions.range(0, 0), N).length);
    }
}
