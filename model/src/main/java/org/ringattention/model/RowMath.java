package org.ringattention.model;

import java.util.Arrays;
import org.ringattention.kernel.Kernels;
import org.ringattention.kernel.PolynomialExp;

/**
 * The float32 operations of a decoder layer on blocks of rows (tokens), row-major [rows × width].
 * Every element is computed in a fixed order that does not depend on the block a row is in, so a
 * row's bits are the same whatever the block size, the device holding it or the thread count:
 * <ul>
 *   <li>RMSNorm: y = w ∘ (x · r), r = 1 / √(mean(x²) + eps), the mean summed in float64 in index order;
 *   <li>linear: y = x Wᵀ by {@link Kernels#accumulateProduct} on Wᵀ [in × out] (sums over in
 *       chunked in a fixed order, the same bits from every kernel implementation);
 *   <li>SwiGLU: silu(g) ∘ u, silu(g) = g / (1 + exp(−g)) with {@link PolynomialExp}.
 * </ul>
 */
final class RowMath {

    private RowMath() {
    }

    /** {@code y[yOff + r·h ..] = RMSNorm(x[xOff + r·h ..]) ∘ w} for {@code rows} rows of {@code h}. */
    static void rmsNorm(float[] x, int xOff, int rows, int h, float[] w, double eps, float[] y, int yOff) {
        for (int r = 0; r < rows; r++) {
            int xb = xOff + r * h;
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += (double) x[xb + i] * x[xb + i];
            }
            float inv = (float) (1.0 / Math.sqrt(ss / h + eps));
            int yb = yOff + r * h;
            for (int i = 0; i < h; i++) {
                y[yb + i] = w[i] * (x[xb + i] * inv);
            }
        }
    }

    /** {@code y [rows × out] = x [rows × in] · wT [in × out]}; x and y start at index 0. */
    static void linear(Kernels kernels, float[] x, int rows, int in, float[] wT, int out, float[] y) {
        Arrays.fill(y, 0, rows * out, 0f);
        kernels.accumulateProduct(x, rows, in, wT, 0, out, y, 0);
    }

    /** {@code g[t] = silu(g[t]) · u[t]} for t &lt; n. */
    static void swiglu(float[] g, float[] u, int n) {
        for (int t = 0; t < n; t++) {
            float x = g[t];
            g[t] = x / (1f + PolynomialExp.exp(-x)) * u[t];
        }
    }

    /** {@code x[t] += a[t]} for t &lt; n (x from {@code xOff}). */
    static void addInto(float[] x, int xOff, float[] a, int n) {
        for (int t = 0; t < n; t++) {
            x[xOff + t] += a[t];
        }
    }

    /** W [out × in] row-major as Wᵀ [in × out]. */
    static float[] transpose(float[] w, int out, int in) {
        float[] t = new float[w.length];
        for (int o = 0; o < out; o++) {
            for (int i = 0; i < in; i++) {
                t[i * out + o] = w[o * in + i];
            }
        }
        return t;
    }
}
