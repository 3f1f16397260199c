package org.ringattention.cli;

import java.util.Locale;

/**
 * How q, k, v, dO and the outputs O, dQ, dK, dV lie in their files: {@link #BHND} [B, H, N, d]
 * (the engine's own layout) or {@link #BNHD} [B, N, H, d] (FlashAttention's). The engine keeps
 * [B, H, N, d]; files in [B, N, H, d] are transposed (H and N swapped) when read and written. LSE
 * is [B, H, N] in both (FlashAttention's softmax_lse is [B, H, N] too). Files of rank 3 are
 * [H, N, d] or [N, H, d]; rank 2 [N, d] is the same in both.
 */
enum TensorLayout {
    BHND, BNHD;

    /** "bhnd" or "bnhd" (any case). */
    static TensorLayout parse(String s) {
        return switch (s.toLowerCase(Locale.ROOT)) {
            case "bhnd" -> BHND;
            case "bnhd" -> BNHD;
            default -> throw CliException.usage("--tensor-layout must be bhnd or bnhd, got '" + s + "'");
        };
    }

    /** Whether a file of this rank must be transposed (H and N swapped). */
    boolean transposes(int rank) {
        return this == BNHD && rank >= 3;
    }

    /** Values of a [B, N, H, d] file in [B, H, N, d] order; {@code dims} are the [B, H, N, d] sizes. */
    static float[] toHeadsFirst(float[] x, int[] dims) {
        float[] y = new float[x.length];
        swap(dims[0], dims[2], dims[1], dims[3], (from, to, n) -> System.arraycopy(x, from, y, to, n));
        return y;
    }

    /** The inverse of {@link #toHeadsFirst(float[], int[])}: [B, H, N, d] values in [B, N, H, d] order. */
    static float[] toTokensFirst(float[] x, int[] dims) {
        float[] y = new float[x.length];
        swap(dims[0], dims[1], dims[2], dims[3], (from, to, n) -> System.arraycopy(x, from, y, to, n));
        return y;
    }

    static double[] toHeadsFirst(double[] x, int[] dims) {
        double[] y = new double[x.length];
        swap(dims[0], dims[2], dims[1], dims[3], (from, to, n) -> System.arraycopy(x, from, y, to, n));
        return y;
    }

    static double[] toTokensFirst(double[] x, int[] dims) {
        double[] y = new double[x.length];
        swap(dims[0], dims[1], dims[2], dims[3], (from, to, n) -> System.arraycopy(x, from, y, to, n));
        return y;
    }

    private interface RowCopy {
        void copy(int from, int to, int length);
    }

    /** Copies the d-long rows of a [b, m, n, d] array to their places in [b, n, m, d]. */
    private static void swap(int b, int m, int n, int d, RowCopy copy) {
        for (int bb = 0; bb < b; bb++) {
            for (int i = 0; i < m; i++) {
                for (int j = 0; j < n; j++) {
                    copy.copy(((bb * m + i) * n + j) * d, ((bb * n + j) * m + i) * d, d);
                }
            }
        }
    }
}
