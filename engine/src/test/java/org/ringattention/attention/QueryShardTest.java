package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * The bytes a query shard reports (its part of the ring's memory report) as its arrays come:
 * queries, O and LSE from the start, the running state (m, l, õ) once a key/value shard has been
 * absorbed in part, dO, D and dQ with its open part once the backward pass starts. Each array has
 * its own size here, so a term counted twice, subtracted or dropped shows.
 */
class QueryShardTest {

    // B = 2, Hq = 3, Hkv = 1, n = 5, d = 4: q, O, õ, dO and dQ hold 120 floats, LSE, m, l and D 30
    private static final AttentionShape SHAPE = new AttentionShape(2, 3, 1, 5, 7, 4);
    private final ShardAttention attention = new ShardAttention(Kernels.scalar(), SHAPE, AttentionSpec.DEFAULT, 2, 4);

    @Test
    void bytesCountEveryArrayTheShardHoldsNow() {
        QueryShard qs = attention.queryShard(0, Tensor.zeros(2, 3, 5, 4), Positions.range(0, 5));
        assertEquals((120 + 120 + 30) * Float.BYTES, qs.bytes(), "q, O and LSE");

        qs.ensureState();
        assertEquals((120 + 120 + 30 + 30 + 30 + 120) * Float.BYTES, qs.bytes(), "and m, l, õ");
        qs.ensureState();
        assertEquals((120 + 120 + 30 + 30 + 30 + 120) * Float.BYTES, qs.bytes(), "allocated once");
    }

    @Test
    void aBackwardShardAddsDoDAndDq() {
        Tensor out = Tensor.zeros(2, 3, 5, 4);
        float[] lse = new float[30];
        QueryShard qs = attention.queryShard(1, Tensor.zeros(2, 3, 5, 4), Positions.range(5, 5), out, lse);
        assertSame(out, qs.out());
        assertSame(lse, qs.lse());
        assertEquals((120 + 120 + 30) * Float.BYTES, qs.bytes(), "q, O and LSE, given");

        attention.rowStatistics(qs, Tensor.zeros(2, 3, 5, 4));
        // dO 120, D 30, dQ 120 and its open part 120; no running state (a backward shard needs none)
        assertEquals((120 + 120 + 30 + 30 + 2 * 120 + 120) * Float.BYTES, qs.bytes());
        qs.ensureState();
        assertEquals((120 + 120 + 30 + 30 + 30 + 120 + 30 + 2 * 120 + 120) * Float.BYTES, qs.bytes());
        assertEquals(120, qs.dq().size());
    }

    @Test
    void resultsThatDoNotFitTheQueriesAreRefused() {
        Tensor q = Tensor.zeros(2, 3, 5, 4);
        assertEquals("O [2, 3, 4, 4] or LSE (30 values) does not fit q [2, 3, 5, 4]",
                assertThrows(IllegalArgumentException.class, () -> attention.queryShard(0, q, Positions.range(0, 5),
                        Tensor.zeros(2, 3, 4, 4), new float[30])).getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> attention.queryShard(0, q, Positions.range(0, 5), Tensor.zeros(2, 3, 5, 4), new float[29]));
        assertEquals("query shard 2 has 5 rows but 4 positions", assertThrows(IllegalArgumentException.class,
                () -> attention.queryShard(2, q, Positions.range(0, 4))).getMessage());
    }
}
