package org.ringattention.kernel;

/**
 * Plain-Java kernels: the reference twin of the SIMD kernels and the fallback when the Vector API
 * is missing. Each loop computes each element with exactly the operations, in exactly the order,
 * that {@link Kernels} prescribes, so the results are the SIMD kernels' bits. Written for clarity,
 * not speed.
 */
public final class ScalarKernels implements Kernels {

    public static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public String name() {
        return "scalar";
    }

    @Override
    public void packTransposed(float[] src, int srcOff, int rows, int d, float[] dst, int dstOff) {
        for (int k = 0; k < d; k++) {
            for (int c = 0; c < rows; c++) {
                dst[dstOff + k * rows + c] = src[srcOff + c * d + k];
            }
        }
    }

    @Override
    public void scoreTile(float[] q, int qOff, int rows, float[] kT, int kOff, int cols, int d, float scale,
            float[] s, float[] rowMax) {
        for (int r = 0; r < rows; r++) {
            int qr = qOff + r * d;
            float m = Float.NEGATIVE_INFINITY;
            for (int c = 0; c < cols; c++) {
                float acc = 0f;
                for (int k = 0; k < d; k++) {
                    acc = Math.fma(q[qr + k], kT[kOff + k * cols + c], acc);
                }
                s[r * cols + c] = scale * acc;
                m = Math.max(m, s[r * cols + c]);
            }
            if (rowMax != null) {
                rowMax[r] = m;
            }
        }
    }

    @Override
    public float max(float[] x, int off, int len) {
        float m = Float.NEGATIVE_INFINITY;
        for (int t = off; t < off + len; t++) {
            m = Math.max(m, x[t]);
        }
        return m;
    }

    @Override
    public boolean allFinite(float[] x, int off, int len) {
        for (int t = off; t < off + len; t++) {
            if (!Float.isFinite(x[t])) {
                return false;
            }
        }
        return true;
    }

    @Override
    public float expShifted(float[] x, int off, int len, float shift) {
        float[] partial = new float[SUM_LANES];
        for (int t = 0; t < len; t++) {
            float e = PolynomialExp.exp(x[off + t] - shift);
            x[off + t] = e;
            partial[t % SUM_LANES] += e;
        }
        for (int width = SUM_LANES / 2; width >= 1; width /= 2) {
            for (int j = 0; j < width; j++) {
                partial[j] += partial[j + width];
            }
        }
        return partial[0];
    }

    @Override
    public void accumulateProduct(float[] p, int rows, int inner, float[] b, int bOff, int n, float[] c, int cOff) {
        for (int r = 0; r < rows; r++) {
            for (int x = 0; x < n; x++) {
                float total = c[cOff + r * n + x];
                for (int t0 = 0; t0 < inner; t0 += CHUNK) {
                    float acc = 0f;
                    for (int t = t0; t < Math.min(inner, t0 + CHUNK); t++) {
                        acc = Math.fma(p[r * inner + t], b[bOff + t * n + x], acc);
                    }
                    total += acc;
                }
                c[cOff + r * n + x] = total;
            }
        }
    }

    @Override
    public void accumulateTransposedProduct(float[] p, int rows, int cols, float[] b, int bOff, int n, float[] c,
            int cOff) {
        for (int t = 0; t < cols; t++) {
            for (int x = 0; x < n; x++) {
                float total = c[cOff + t * n + x];
                for (int r0 = 0; r0 < rows; r0 += CHUNK) {
                    float acc = 0f;
                    for (int r = r0; r < Math.min(rows, r0 + CHUNK); r++) {
                        acc = Math.fma(p[r * cols + t], b[bOff + r * n + x], acc);
                    }
                    total += acc;
                }
                c[cOff + t * n + x] = total;
            }
        }
    }
}
