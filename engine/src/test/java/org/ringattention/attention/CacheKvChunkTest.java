package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The streaming path's key/value chunk: K and V of one head within 1 MiB, a whole unit, never above the limit. */
class CacheKvChunkTest {

    @Test
    void keysAndValuesOfOneHeadFitOneMebibyte() {
        assertEquals(2048, StreamingAttention.cacheKvChunk(64, 128, 16384)); // 2·2048·64·4 B = 1 MiB
        assertEquals(1024, StreamingAttention.cacheKvChunk(128, 64, 8192));
        assertEquals(1152, StreamingAttention.cacheKvChunk(111, 64, 8192)); // 9 units of 128: 1,022,976 B
        assertTrue(2L * 1152 * 111 * Float.BYTES <= StreamingAttention.KV_CHUNK_BYTES);
        assertTrue(2L * (1152 + 128) * 111 * Float.BYTES > StreamingAttention.KV_CHUNK_BYTES);
    }

    @Test
    void neverLongerThanTheLimitNorShorterThanOneUnit() {
        assertEquals(512, StreamingAttention.cacheKvChunk(64, 128, 512));
        assertEquals(128, StreamingAttention.cacheKvChunk(4096, 128, 8192)); // 4 MiB a unit: still one
        assertEquals(1920, StreamingAttention.cacheKvChunk(64, 96, 16384)); // unit lcm(96, 128) = 384
        assertEquals(128, StreamingAttention.cacheKvChunk(64, 128, 0));
    }
}
