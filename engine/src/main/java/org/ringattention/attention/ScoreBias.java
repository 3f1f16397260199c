package org.ringattention.attention;

import java.util.Arrays;
import java.util.Objects;

/**
 * An additive score bias, [B|1, H|1, Nq, Nk] row-major, broadcast as PyTorch's float attn_mask;
 * the {@link Mask} adds it after ALiBi.
 */
public final class ScoreBias {

    private final double[] bias;
    private final PairGrid grid;

    private ScoreBias(double[] bias, PairGrid grid) {
        this.bias = bias;
        this.grid = grid;
    }

    /** Wraps finite {@code bias} (copied) of shape [batch, heads, rows, cols], batch and heads 1 to broadcast. */
    public static ScoreBias of(double[] bias, int batch, int heads, int rows, int cols) {
        Objects.requireNonNull(bias, "bias");
        PairGrid g = new PairGrid(batch, heads, rows, cols);
        if (bias.length != g.size()) {
            throw new IllegalArgumentException("a bias of shape " + g + " needs " + g.size() + " values, got "
                    + bias.length);
        }
        for (int e = 0; e < bias.length; e++) {
            if (!Double.isFinite(bias[e])) {
                throw new IllegalArgumentException("bias value " + e + " is not finite: " + bias[e]
                        + " (hide pairs with a keep mask)");
            }
        }
        return new ScoreBias(bias.clone(), g);
    }

    /** The bias of pair (i, j) of head (b, h). */
    public double bias(int b, int h, int i, int j) {
        return bias[grid.index(b, h, i, j)];
    }

    void check(AttentionShape shape) {
        grid.check(shape, "the bias");
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ScoreBias s && s.grid.equals(grid) && Arrays.equals(s.bias, bias);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bias) * 31 + grid.hashCode();
    }

    @Override
    public String toString() {
        return "bias" + grid;
    }
}
