package org.ringattention.attention;

/**
 * The shape of a per-pair input broadcast as PyTorch's attn_mask: [B|1, H|1, Nq, Nk], row-major; a
 * dimension of size 1 applies to every batch or every query head.
 */
record PairGrid(int batch, int heads, int rows, int cols) {

    PairGrid {
        if (batch < 1 || heads < 1 || rows < 1 || cols < 1) {
            // not "+ this": a compact constructor's fields are still 0 here
            throw new IllegalArgumentException("a mask or bias needs every dimension >= 1, got "
                    + text(batch, heads, rows, cols));
        }
    }

    int size() {
        return Math.multiplyExact(Math.multiplyExact(batch, heads), Math.multiplyExact(rows, cols));
    }

    /** The flat index of pair (i, j) of head (b, h). */
    int index(int b, int h, int i, int j) {
        return ((((batch == 1 ? 0 : b) * heads) + (heads == 1 ? 0 : h)) * rows + i) * cols + j;
    }

    /** Checks that the grid broadcasts to [B, Hq, Nq, Nk]; {@code what} names it. */
    void check(AttentionShape shape, String what) {
        if ((batch != 1 && batch != shape.batch()) || (heads != 1 && heads != shape.qHeads())
                || rows != shape.qLen() || cols != shape.kvLen()) {
            throw new IllegalArgumentException(what + " has shape " + this + ", which does not broadcast to ["
                    + shape.batch() + ", " + shape.qHeads() + ", " + shape.qLen() + ", " + shape.kvLen() + "]");
        }
    }

    @Override
    public String toString() {
        return text(batch, heads, rows, cols);
    }

    private static String text(int b, int h, int r, int c) {
        return "[" + b + ", " + h + ", " + r + ", " + c + "]";
    }
}
