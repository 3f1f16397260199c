package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * What a blockwise pass reports beside its results: the tiles it computed and those the mask let
 * it skip, summed over its workers whatever their number, and the configuration it describes.
 */
class BlockwiseAttentionTest {

    @Test
    void tileCountsAreTheMasksAndAddUpOverWorkers() {
        // causal, N = 8, blocks 4 × 4: tiles (0, 0) and (1, 1) partial, (1, 0) visible, (0, 1) hidden
        Tensor x = Tensor.zeros(1, 2, 8, 3);
        for (int h = 0; h < 2; h++) {
            for (int i = 0; i < 8; i++) {
                x.set(0, h, i, i % 3, 0.25f * (i + h));
            }
        }
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        for (int threads : new int[] {1, 2, 3}) {
            AttentionOutput o = new BlockwiseAttention(Kernels.scalar(), 4, 4, threads).forward(x, x, x, causal);
            assertEquals(2 * 3, o.tilesComputed(), threads + " threads: 3 tiles per head");
            assertEquals(2 * 1, o.tilesSkipped(), threads + " threads: 1 tile per head");
            AttentionOutput full = new BlockwiseAttention(Kernels.scalar(), 4, 4, threads).forward(x, x, x,
                    AttentionSpec.DEFAULT);
            assertEquals(2 * 4, full.tilesComputed());
            assertEquals(0, full.tilesSkipped());
        }
    }

    @Test
    void aBlockSplitInHalvesCountsItsTilesAsOneBlock() {
        // causal, N = 8, blocks 8 × 4: one query block, the last of the pass, so it runs as two tasks
        // of rows 0..3 and 4..7. Key block 4..7 is hidden from rows 0..3 but not from the block:
        // both tiles are computed, none skipped, whichever half computed them
        Tensor x = Tensor.zeros(1, 1, 8, 3);
        for (int i = 0; i < 8; i++) {
            x.set(0, 0, i, i % 3, 0.5f * i);
        }
        AttentionSpec causal = AttentionSpec.DEFAULT.withCausal(true);
        for (int threads : new int[] {1, 2}) {
            AttentionOutput o = new BlockwiseAttention(Kernels.scalar(), 8, 4, threads).forward(x, x, x, causal);
            assertEquals(2, o.tilesComputed(), threads + " threads");
            assertEquals(0, o.tilesSkipped(), threads + " threads");
        }
    }

    @Test
    void describesItsBlocksKernelsAndThreads() {
        BlockwiseAttention b = new BlockwiseAttention(Kernels.scalar(), 64, 32, 3);
        assertEquals("blockwise float32, blocks 64x32, " + Kernels.scalar().name() + " kernels, 3 threads",
                b.describe());
        assertEquals(64, b.blockQ());
        assertEquals(32, b.blockKv());
        assertEquals(3, b.threads());
    }
}
