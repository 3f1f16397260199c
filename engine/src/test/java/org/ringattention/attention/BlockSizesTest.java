package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class BlockSizesTest {

    @Test
    void onFullWidthCoresTheForwardKeyBlockFitsIn32KiloBytesAndTheBackwardShrinksAboveD64() {
        CoreClass full = CoreClass.FULL_WIDTH_512;
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(64, false, full));
        assertEquals(new BlockSizes(128, 64), BlockSizes.defaultFor(65, false, full));
        assertEquals(new BlockSizes(128, 64), BlockSizes.defaultFor(128, false, full));
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(1, false, full));
        assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(64, true, full));
        assertEquals(new BlockSizes(64, 64), BlockSizes.defaultFor(128, true, full));
        for (int d = 1; d <= 512; d++) {
            BlockSizes f = BlockSizes.defaultFor(d, false, full);
            boolean fits = 128L * d * Float.BYTES <= 32 * 1024;
            assertEquals(fits ? 128 : 64, f.blockKv(), "d = " + d);
            assertTrue(f.blockQ() == 128, "d = " + d);
        }
    }

    @Test
    void onZen4ClassCoresEveryShapeTakes128By128() {
        for (int d = 1; d <= 512; d++) {
            assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(d, false, CoreClass.HALF_WIDTH_512));
            assertEquals(new BlockSizes(128, 128), BlockSizes.defaultFor(d, true, CoreClass.HALF_WIDTH_512));
        }
    }

    @Test
    void theRuleFollowsTheDetectedCores() {
        for (boolean backward : new boolean[] {false, true}) {
            assertEquals(BlockSizes.defaultFor(128, backward, CoreClass.detected()), BlockSizes.defaultFor(128, backward));
        }
        assertTrue(BlockSizes.describeRule().endsWith("(" + CoreClass.detected() + " cores)"));
    }

    @Test
    void sizesBelowOneAreRefused() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockSizes(0, 64)).getMessage()
                .contains("block-q 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new BlockSizes(64, -1)).getMessage()
                .contains("block-kv -1"));
    }
}
