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
 *   <li>linear: y = x Wᵀ by {@link Kernels#accumulateProduct} on Wᵀ in panels ({@link PackedLinear}; sums
 *       over in chunked in a fixed order, the same bits from every kernel implementation);
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

    /**
     * The backward pass of {@link #rmsNorm}: given dy, adds dx to {@code dx[dxOff ..]} and dw to
     * {@code dw}: with r = 1/√(mean(x²) + eps) and g = w ∘ dy,
     * <pre>
     *   dw += dy ∘ x · r,     dx += r · g − x · r³ · (g·x) / h
     * </pre>
     * each row in float64, rounded once; rows are added to dw in order.
     */
    static void rmsNormBackward(float[] x, int xOff, int rows, int h, float[] w, double eps, float[] dy,
            float[] dx, int dxOff, float[] dw) {
        for (int r = 0; r < rows; r++) {
            int xb = xOff + r * h;
            double ss = 0;
            for (int i = 0; i < h; i++) {
                ss += (double) x[xb + i] * x[xb + i];
            }
            double inv = 1.0 / Math.sqrt(ss / h + eps);
            double gx = 0;
            for (int i = 0; i < h; i++) {
                gx += (double) w[i] * dy[r * h + i] * x[xb + i];
            }
            double c = inv * inv * inv * gx / h;
            for (int i = 0; i < h; i++) {
                dw[i] += (float) ((double) dy[r * h + i] * x[xb + i] * inv);
                dx[dxOff + r * h + i] += (float) (inv * w[i] * dy[r * h + i] - x[xb + i] * c);
            }
        }
    }

    /** {@code dx [rows × in] += dy [rows × out] · w [out × in]}: the input gradient of a linear layer. */
    static void linearInputGrad(Kernels kernels, float[] dy, int rows, int out, float[] w, int in, float[] dx) {
        kernels.accumulateProduct(dy, rows, out, w, 0, in, dx, 0);
    }

    /** {@code dw [out × in] += dyᵀ x}: the weight gradient of a linear layer from {@code rows} rows. */
    static void linearWeightGrad(Kernels kernels, float[] dy, int rows, int out, float[] x, int in, float[] dw) {
        kernels.accumulateTransposedProduct(dy, rows, out, x, 0, in, dw, 0);
    }

    /**
     * The backward pass of {@link #swiglu}: from dz, the gradients of g and u, in place of
     * {@code g} and {@code u} (σ = 1/(1 + e^−g), silu = g·σ, silu' = σ·(1 + g·(1 − σ))).
     */
    static void swigluBackward(float[] g, float[] u, float[] dz, int n) {
        for (int t = 0; t < n; t++) {
            float x = g[t];
            float s = 1f / (1f + PolynomialExp.exp(-x));
            float silu = x * s;
            g[t] = dz[t] * u[t] * (s * (1f + x * (1f - s)));
            u[t] = dz[t] * silu;
        }
    }

    /**
     * {@code g[t] = silu(g[t]) · u[t]} for t &lt; n. The exponentials are the kernel's
     * {@link Kernels#expShifted} with shift 0, which gives {@link PolynomialExp#exp}'s bits
     * ((−g) − 0 is −g exactly) at vector speed, a piece at a time.
     */
    static void swiglu(Kernels kernels, float[] g, float[] u, int n) {
        float[] e = new float[Math.min(n, SWIGLU_PIECE)];
        for (int t0 = 0; t0 < n; t0 += SWIGLU_PIECE) {
            int len = Math.min(SWIGLU_PIECE, n - t0);
            for (int t = 0; t < len; t++) {
                e[t] = -g[t0 + t];
            }
            kernels.expShifted(e, 0, len, 0f); // its sum is not needed
            for (int t = 0; t < len; t++) {
                g[t0 + t] = g[t0 + t] / (1f + e[t]) * u[t0 + t];
            }
        }
    }

    private static final int SWIGLU_PIECE = 4096;

    /** {@code x[t] += a[t]} for t &lt; n (x from {@code xOff}). */
    static void addInto(float[] x, int xOff, float[] a, int n) {
        for (int t = 0; t < n; t++) {
            x[xOff + t] += a[t];
        }
    }
}
