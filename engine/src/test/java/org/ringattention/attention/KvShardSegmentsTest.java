package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * A key/value shard through a memory segment, as a link that cannot copy buffer to buffer (MPI)
 * carries it: K and V, then dK and dV, written from one buffer at an offset and read into another
 * that held a different shard, which then holds the first one's floats, its description, and K
 * as rows unpacked anew (not the rows of the shard it held before); and the descriptions a read
 * refuses or accepts at their limits.
 */
class KvShardSegmentsTest {

    // B = 2, Hq = 2, Hkv = 1, N = 10, d = 3, blocks 4 × 4
    private static final AttentionShape SHAPE = new AttentionShape(2, 2, 1, 10, 10, 3);
    private final ShardAttention attention = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT, 4, 4);

    @Test
    void aShardWrittenToASegmentReadsBackIntoAnotherBuffer() {
        KvShard from = attention.kvBuffer(8, true);
        attention.load(from, 3, filled(1), filled(1000), Positions.range(2, 5));
        int n = (int) from.keyValueFloats();
        for (int e = 0; e < n; e++) {
            from.dk[e] = 0.5f + e;
            from.dv[e] = -0.25f - e;
        }
        KvShard to = attention.kvBuffer(8, true);
        attention.load(to, 1, filled(-7), filled(-9), Positions.range(0, 5)); // its K as rows is valid now
        long at = 12;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(at + 4L * n * Float.BYTES, 4);
            from.writeKeysValues(seg, at);
            from.writeGradients(seg, at + from.keyValueBytes());
            Positions positions = Positions.range(2, 5);
            to.readKeysValues(seg, at, 3, positions, 5, from.blockCols());
            to.readGradients(seg, at + from.keyValueBytes());
            assertEquals(3, to.owner());
            assertEquals(5, to.length());
            assertEquals(from.blockCols(), to.blockCols());
            assertSame(positions, to.positions);
        }
        assertArrayEquals(Arrays.copyOf(from.k, n), Arrays.copyOf(to.k, n), "K");
        assertArrayEquals(Arrays.copyOf(from.v, n), Arrays.copyOf(to.v, n), "V");
        assertArrayEquals(from.dkRows(), to.dkRows(), "dK");
        assertArrayEquals(from.dvRows(), to.dvRows(), "dV");
        for (int b = 0; b < 2; b++) {
            int head = from.offset(b, 0, 0); // head (b, 0): 5 rows of 3 from here
            assertArrayEquals(Arrays.copyOfRange(from.keyRows(b, 0), head, head + 15),
                    Arrays.copyOfRange(to.keyRows(b, 0), head, head + 15),
                    "K as rows of batch " + b + ", unpacked from the K read");
        }
    }

    @Test
    void aReadRefusesADescriptionThatDoesNotFitAndAcceptsOneAtTheLimits() {
        KvShard to = attention.kvBuffer(8, false);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4096, 4);
            String fits = "does not fit its ";
            assertThrows(IllegalArgumentException.class,
                    () -> to.readKeysValues(seg, 0, 0, Positions.range(0, 5), 4, 4), "4 rows at 5 positions");
            assertEquals("shard of 9 rows (blocks of 4) " + fits + "9 positions or a buffer of 8",
                    assertThrows(IllegalArgumentException.class,
                            () -> to.readKeysValues(seg, 0, 0, Positions.range(0, 9), 9, 4)).getMessage());
            assertThrows(IllegalArgumentException.class,
                    () -> to.readKeysValues(seg, 0, 0, Positions.range(0, 5), 5, 0), "blocks of 0");
            to.readKeysValues(seg, 0, 2, Positions.range(0, 8), 8, 1); // as many rows as the buffer holds, blocks of 1
            assertEquals(8, to.length());
            assertEquals(1, to.blockCols());
            assertEquals(2, to.owner());
        }
    }

    /** K or V [2, 1, 10, 3] of distinct values from {@code base}. */
    private static Tensor filled(int base) {
        Tensor t = Tensor.zeros(2, 1, 10, 3);
        for (int b = 0; b < 2; b++) {
            for (int i = 0; i < 10; i++) {
                for (int x = 0; x < 3; x++) {
                    t.set(b, 0, i, x, base + 0.125f * (b * 30 + i * 3 + x));
                }
            }
        }
        return t;
    }
}
