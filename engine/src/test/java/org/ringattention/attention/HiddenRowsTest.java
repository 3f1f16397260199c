package org.ringattention.attention;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.ringattention.kernel.Kernels;
import org.ringattention.tensor.Tensor;

/**
 * Rows that see no key give O = 0 and LSE = −∞ (and dQ = 0) whatever the same worker computed
 * before: one worker runs the query blocks in order, so a block of hidden rows after a block of
 * visible ones meets a workspace that still holds the visible block's sums. Either order of the
 * two blocks, forward and backward, on one thread.
 */
class HiddenRowsTest {

    private static final int NQ = 16;
    private static final int NK = 12;
    private static final int D = 4;

    @Test
    void hiddenRowsAfterVisibleOnesAreZero() {
        check(true);
    }

    @Test
    void hiddenRowsBeforeVisibleOnesAreZero() {
        check(false);
    }

    private static void check(boolean hideSecondHalf) {
        boolean[] keep = new boolean[NQ * NK];
        for (int i = 0; i < NQ; i++) {
            for (int j = 0; j < NK; j++) {
                keep[i * NK + j] = (i < NQ / 2) == hideSecondHalf;
            }
        }
        AttentionSpec spec = AttentionSpec.DEFAULT.withMask(KeepMask.of(keep, 1, 1, NQ, NK));
        SplittableRandom rnd = new SplittableRandom(7);
        Tensor q = random(rnd, NQ);
        Tensor k = random(rnd, NK);
        Tensor v = random(rnd, NK);
        Tensor dOut = random(rnd, NQ);
        for (int blockKv : new int[] {4, 12}) {
            BlockwiseAttention engine = new BlockwiseAttention(Kernels.scalar(), NQ / 2, blockKv, 1);
            AttentionOutput fwd = engine.forward(q, k, v, spec);
            Gradients g = engine.backward(q, k, v, fwd, dOut, spec);
            for (int i = 0; i < NQ; i++) {
                boolean hidden = (i >= NQ / 2) == hideSecondHalf;
                String row = "row " + i + ", key blocks of " + blockKv;
                if (hidden) {
                    assertEquals(Float.NEGATIVE_INFINITY, fwd.lse(0, 0, i), row);
                } else {
                    assertTrue(Float.isFinite(fwd.lse(0, 0, i)), row);
                }
                boolean anyOut = false;
                for (int x = 0; x < D; x++) {
                    if (hidden) {
                        assertEquals(0f, fwd.out().get(0, 0, i, x), row);
                        assertEquals(0f, g.dq().get(0, 0, i, x), row);
                    }
                    anyOut |= fwd.out().get(0, 0, i, x) != 0f;
                }
                assertEquals(!hidden, anyOut, row);
            }
        }
    }

    private static Tensor random(SplittableRandom rnd, int rows) {
        Tensor t = Tensor.zeros(1, 1, rows, D);
        for (int i = 0; i < rows; i++) {
            for (int x = 0; x < D; x++) {
                t.set(0, 0, i, x, (float) rnd.nextDouble(-1, 1));
            }
        }
        return t;
    }
}
