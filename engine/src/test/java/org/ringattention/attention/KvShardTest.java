package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * A key/value buffer as a ring moves it: what it reports of its size (the bytes a link carries,
 * forward and backward, and the bytes it holds, which the ring's memory report adds up), and the
 * transfers between buffers, which refuse a buffer of another pass or shape; and the bytes a
 * worker's workspace reports, the other part of that memory report.
 */
class KvShardTest {

    // B = 2, Hq = 2, Hkv = 1, N = 10, d = 3: a buffer of capacity c holds 2·1·c·3 floats per array
    private static final AttentionShape SHAPE = new AttentionShape(2, 2, 1, 10, 10, 3);
    private final ShardAttention attention = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT, 4, 4);

    @Test
    void sizesFollowTheShardHeldNow() {
        KvShard fwd = attention.kvBuffer(8, false);
        KvShard bwd = attention.kvBuffer(8, true);
        assertFalse(fwd.backward());
        assertTrue(bwd.backward());
        assertEquals(-1, fwd.owner());
        assertEquals(48, fwd.capacityFloats());
        assertEquals(0, fwd.keyValueBytes(), "empty");
        assertEquals(2L * 48 * Float.BYTES, fwd.bytes(), "K and V");
        assertEquals(4L * 48 * Float.BYTES, bwd.bytes(), "K, V, dK and dV");

        Tensor k = counting(10);
        Tensor v = counting(10);
        attention.load(fwd, 3, k, v, Positions.range(2, 5));
        assertEquals(3, fwd.owner());
        assertEquals(5, fwd.length());
        assertEquals(4, fwd.blockCols());
        assertEquals(30, fwd.keyValueFloats());
        assertEquals(2L * 30 * Float.BYTES, fwd.keyValueBytes());
        assertEquals(0, fwd.gradientBytes(), "no gradients in the forward pass");
        assertEquals(2L * 48 * Float.BYTES, fwd.bytes(), "the forward pass never holds K as rows");

        attention.load(bwd, 1, k, v, Positions.range(0, 3));
        assertEquals(3, bwd.blockCols(), "blocks no wider than the shard");
        assertEquals(2L * 18 * Float.BYTES, bwd.keyValueBytes());
        assertEquals(2L * 18 * Float.BYTES, bwd.gradientBytes());
        assertEquals((4L * 48 + 48) * Float.BYTES, bwd.bytes(), "and K as rows for dQ");
        assertArrayEquals(new float[18], bwd.dkRows(), "a load zeroes dK");
        assertArrayEquals(new float[18], bwd.dvRows());
        assertEquals(1, attention.kvBuffer(0, false).capacityFloats() / 6, "room for one row at least");
    }

    @Test
    void transfersCopyTheShardAndRefuseOtherBuffers() {
        KvShard a = attention.kvBuffer(8, false);
        KvShard b = attention.kvBuffer(8, false);
        attention.load(a, 2, counting(10), counting(10), Positions.range(1, 6));
        b.copyKeysValuesFrom(a);
        assertEquals(2, b.owner());
        assertEquals(6, b.length());
        assertEquals(a.blockCols(), b.blockCols());
        assertEquals(a.keyValueBytes(), b.keyValueBytes());

        KvShard backward = attention.kvBuffer(8, true);
        KvShard small = attention.kvBuffer(4, false);
        String fits = "shard of 6 rows does not fit a buffer of ";
        assertEquals(fits + "8", assertThrows(IllegalArgumentException.class, () -> backward.copyKeysValuesFrom(a))
                .getMessage());
        assertEquals(fits + "4", assertThrows(IllegalArgumentException.class, () -> small.copyKeysValuesFrom(a))
                .getMessage());
        assertThrows(IllegalArgumentException.class, () -> backward.copyGradientsFrom(a), "another pass");
        KvShard other = new ShardAttention(Kernels.scalar(), new AttentionShape(2, 2, 1, 10, 10, 5),
                AttentionSpec.DEFAULT, 4, 4).kvBuffer(8, false);
        assertThrows(IllegalArgumentException.class, () -> other.copyKeysValuesFrom(a), "another head dimension");

        KvShard g1 = attention.kvBuffer(8, true);
        KvShard g2 = attention.kvBuffer(8, true);
        attention.load(g1, 0, counting(10), counting(10), Positions.range(0, 4));
        g2.copyKeysValuesFrom(g1);
        g2.copyGradientsFrom(g1);
        assertArrayEquals(g1.dkRows(), g2.dkRows());
        assertThrows(IllegalArgumentException.class, () -> attention.load(small, 0, counting(10), counting(10),
                Positions.range(0, 5)), "5 rows into a buffer of 4");
    }

    @Test
    void aWorkspaceCountsEveryArrayItHolds() {
        // blocks 4 × 4, d = 3: q, dO, o 12 floats each; s, dS 16; row maxima 4; dK and dV sums
        // 12 + 12 in two levels; the online softmax's m 4, l 4 and õ 12, the last two in two levels;
        // q and the online softmax once per unit of a forward task's group (four at these sizes)
        ShardAttention.Workspace w = attention.workspace(100, 100);
        int g = ForwardStep.GROUP;
        long floats = (g + 2) * 12 + 2 * 16 + 4 + 2 * (12 + 12) + g * (4 + 2 * (4 + 12));
        assertEquals(floats * Float.BYTES, w.bytes());
        ShardAttention capped = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT.withSoftcap(5), 4, 4);
        assertEquals((floats + 16) * Float.BYTES, capped.workspace(100, 100).bytes(), "and dCap under a soft cap");
        long small = (g + 2) * 6 + 2 * 4 + 2 + 2 * (6 + 6) + g * (2 + 2 * (2 + 6)); // blocks cut to a 2 × 2 shard
        assertEquals(small * Float.BYTES, attention.workspace(2, 2).bytes());
    }

    private static Tensor counting(int rows) {
        Tensor t = Tensor.zeros(2, 1, rows, 3);
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < rows; i++) {
                for (int x = 0; x < 3; x++) {
                    t.set(b, 0, i, x, 1 + b * 100 + i * 10 + x);
                }
            }
        }
        return t;
    }
}
