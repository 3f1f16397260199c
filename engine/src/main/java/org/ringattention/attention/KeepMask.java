package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * A boolean keep mask (true = the pair may be visible), [B|1, H|1, Nq, Nk] row-major, broadcast
 * as PyTorch's attn_mask; the {@link Mask} ANDs it with every other rule.
 */
public final class KeepMask {

    private final boolean[] keep;
    private final PairGrid grid;

    private KeepMask(boolean[] keep, PairGrid grid) {
        this.keep = keep;
        this.grid = grid;
    }

    /** Wraps {@code keep} (copied) of shape [batch, heads, rows, cols], batch and heads 1 to broadcast. */
    public static KeepMask of(boolean[] keep, int batch, int heads, int rows, int cols) {
        Objects.requireNonNull(keep, "keep");
        PairGrid g = new PairGrid(batch, heads, rows, cols);
        if (keep.length != g.size()) {
            throw new IllegalArgumentException("a keep mask of shape " + g + " needs " + g.size() + " values, got "
                    + keep.length);
        }
        return new KeepMask(keep.clone(), g);
    }

    /** Whether pair (i, j) of head (b, h) is kept. */
    public boolean keep(int b, int h, int i, int j) {
        return keep[grid.index(b, h, i, j)];
    }

    /** Whether the mask differs between query heads (so tiles are judged head by head). */
    public boolean perHead() {
        return grid.heads() > 1;
    }

    void check(AttentionShape shape) {
        grid.check(shape, "the keep mask");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof KeepMask m && m.grid.equals(grid) && Arrays.equals(m.keep, keep);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(keep) * 31 + grid.hashCode();
    }

    @Override
    public String toString() {
        return "mask" + grid;
    }
}
