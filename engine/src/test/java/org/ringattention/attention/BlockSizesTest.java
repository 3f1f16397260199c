package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlockSizesTest {

    @Test
    void theForwardKeyBlockFitsIn32KiloBytesAndTheBackwardShrinksAboveD64() {
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(64, false));
        assertEquals(new BlockSizes(128, 64), BlockSizes.defaultFor(65, false));
        assertEquals(new BlockSizes(128, 64), BlockSizes.defaultFor(128, false));
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(1, false));
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(64, true));
        assertEquals(new BlockSizes(64, 64), BlockSizes.defaultFor(128, true));
        for (int d = 1; d <= 512; d++) {
            BlockSizes f = BlockSizes.defaultFor(d, false);
            boolean fits = 128L * d * Float.BYTES <= 32 * 1024;
            assertEquals(fits ? 128 : 64, f.blockKv(), "d = " + d);
            assertTrue(f.blockQ() == 128, "d = " + d);
        }
    }

    @Test
    void sizesBelowOneAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockSizes(0, 64)).getMessage()
                .contains("block-q 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockSizes(64, -1)).getMessage()
                .contains("block-kv -1"));
    }
}
